import type {FileHandle} from 'node:fs/promises';
import test from 'ava';
import {WriteCoalescer} from '../../source/storage/write-coalescer.js';

/**
 * A file in memory behind the two FileHandle calls the coalescer makes, logging each call;
 * `shortBy` makes every writev write that many bytes less, `failAt` makes calls at that position fail.
 */
function memoryFile({shortBy = 0, failAt}: {shortBy?: number; failAt?: number} = {}) {
	const bytes = Buffer.alloc(64);
	const calls: string[] = [];
	const handle = {
		async writev(buffers: Buffer[], position: number) {
			calls.push(`writev ${position} ×${buffers.length}`);
			await new Promise((resolve) => setTimeout(resolve, 5));
			if (position === failAt) {
				throw Object.assign(new Error('ENOSPC: no space left on device'), {code: 'ENOSPC'});
			}

			const whole = Buffer.concat(buffers);
			const length = Math.max(0, whole.length - shortBy);
			whole.copy(bytes, position, 0, length);
			return {bytesWritten: length, buffers};
		},
		async write(data: Buffer, offset: number, length: number, position: number) {
			calls.push(`write ${position} ${length}`);
			data.copy(bytes, position, offset, offset + length);
			return {bytesWritten: length, buffer: data};
		},
	};
	return {handle: handle as unknown as FileHandle, bytes, calls};
}

const chunk = (text: string) => Buffer.from(text);

test('writes start at once while fewer than four calls are in flight; those that wait and touch then share one call', async (t) => {
	const file = memoryFile();
	const writer = new WriteCoalescer();
	await Promise.all([
		writer.write(file.handle, chunk('aaaa'), 0),
		writer.write(file.handle, chunk('bbbb'), 8),
		writer.write(file.handle, chunk('cccc'), 16),
		writer.write(file.handle, chunk('dddd'), 24),
		writer.write(file.handle, chunk('ffff'), 44),
		writer.write(file.handle, chunk('eeee'), 40),
		writer.write(file.handle, chunk('gggg'), 56),
	]);
	t.deepEqual(file.calls, [
		'writev 0 ×1',
		'writev 8 ×1',
		'writev 16 ×1',
		'writev 24 ×1',
		'writev 40 ×2',
		'writev 56 ×1',
	]);
	t.is(file.bytes.subarray(40, 48).toString(), 'eeeeffff');
	t.is(file.bytes.subarray(56, 60).toString(), 'gggg');
});

test('what a short writev leaves is written piece by piece', async (t) => {
	const file = memoryFile({shortBy: 6});
	const writer = new WriteCoalescer();
	await Promise.all([
		writer.write(file.handle, chunk('1111'), 0),
		writer.write(file.handle, chunk('2222'), 4),
		writer.write(file.handle, chunk('3333'), 8),
	]);
	t.is(file.bytes.subarray(0, 12).toString(), '111122223333');
	t.true(file.calls.some((call) => call.startsWith('write ')));
});

test('a failed call fails only the writes it carried', async (t) => {
	const file = memoryFile({failAt: 8});
	const writer = new WriteCoalescer();
	const first = writer.write(file.handle, chunk('aaaa'), 0);
	const failing = writer.write(file.handle, chunk('cccc'), 8);
	const later = writer.write(file.handle, chunk('zzzz'), 32);
	await t.notThrowsAsync(first);
	await t.throwsAsync(failing, {message: /ENOSPC/});
	await t.notThrowsAsync(later);
	t.is(file.bytes.subarray(32, 36).toString(), 'zzzz');
});

test('writes to different handles never share a call', async (t) => {
	const one = memoryFile();
	const two = memoryFile();
	const writer = new WriteCoalescer();
	await Promise.all([
		writer.write(one.handle, chunk('aaaa'), 0),
		writer.write(one.handle, chunk('bbbb'), 4),
		writer.write(two.handle, chunk('cccc'), 8),
	]);
	t.deepEqual(one.calls, ['writev 0 ×1', 'writev 4 ×1']);
	t.deepEqual(two.calls, ['writev 8 ×1']);
});
