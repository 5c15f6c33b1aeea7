import test from 'ava';
import {PieceBufferPool} from '../../source/download/piece-buffers.js';
import type {PiecePicker} from '../../source/download/piece-picker.js';
import {directIoAlignment} from '../../source/storage/aligned-memory.js';
import {checkedPicker} from '../helpers/checked-picker.js';

test('a buffer given back is taken again for a piece of the same length, and only of that length', (t) => {
	const pool = new PieceBufferPool(1 << 20);
	const first = pool.take(1000);
	pool.give(first);
	t.is(pool.idleBytes, 1000);
	t.not(pool.take(999), first, 'another length gets its own buffer');
	t.is(pool.take(1000), first);
	t.is(pool.idleBytes, 0);
	t.not(pool.take(1000), first, 'taken once, not twice');
});

test('idle buffers are bounded: beyond maxBytes a returned buffer is dropped', (t) => {
	const pool = new PieceBufferPool(2500);
	for (const buffer of [pool.take(1000), pool.take(1000), pool.take(1000)]) {
		pool.give(buffer);
	}

	t.is(pool.idleBytes, 2000);
});

test('buffers are page-aligned shared memory, never Node’s pool of small buffers', (t) => {
	const pool = new PieceBufferPool(1 << 20);
	const [first, second] = [pool.take(16 * 1024), pool.take(16 * 1024)];
	for (const buffer of [first, second]) {
		t.true(buffer.buffer instanceof SharedArrayBuffer, 'a hashing worker reads it without a copy');
		t.is(buffer.byteOffset % directIoAlignment, 0, 'the store may write it with direct I/O');
	}

	first.fill(1);
	t.true(
		second.every((byte) => byte === 0),
		'no two buffers overlap',
	);
});

test('the picker hands pieces buffers from its pool, and recycle gives them back', (t) => {
	const pool = new PieceBufferPool(1 << 20);
	const picker = checkedPicker(() => 32 * 1024, 4, {
		maxBytesInFlight: 1 << 20,
		random: () => 0,
		buffers: pool,
	});
	const everything = {has: () => true} as unknown as Parameters<PiecePicker['pick']>[0];
	const first = picker.pick(everything);
	const buffer = first?.data;
	if (!first || !buffer) {
		t.fail('no piece picked');
		return;
	}

	picker.markVerifying(first.index);
	picker.markDone(first.index);
	picker.recycle(first);
	t.is(pool.idleBytes, 32 * 1024);
	t.is(picker.pick(everything)?.data, buffer, 'the next piece writes into the same memory');
	t.is(first.takeData(), undefined, 'the recycled piece holds no buffer any more');
});
