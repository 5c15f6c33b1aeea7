import process from 'node:process';
import test from 'ava';
import {from, lastValueFrom, map, Observable, toArray} from 'rxjs';
import {encodeHandshake} from '../../source/codec/handshake.js';
import {encodeMessage, type PeerMessage} from '../../source/codec/messages.js';
import {PeerProtocolError} from '../../source/errors.js';
import {frameWire, type WireFrame} from '../../source/peer/framer.js';

const handshake = {
	reserved: Buffer.alloc(8),
	infoHash: Buffer.alloc(20, 0xab),
	peerId: Buffer.from('-LT2080-abcdefghijkl'),
};
const messages: PeerMessage[] = [
	{type: 'bitfield', bitfield: Buffer.from([0xff, 0x80])},
	{type: 'unchoke'},
	{type: 'keep-alive'},
	{type: 'have', index: 7},
	{type: 'piece', index: 3, begin: 16_384, block: Buffer.from('the block bytes')},
	{type: 'request', index: 1, begin: 0, length: 16_384},
	{type: 'port', port: 6881},
	{type: 'extended', extension: 0, payload: Buffer.from('d1:md11:ut_metadatai1eee')},
	{type: 'unknown', id: 21, payload: Buffer.from('anything')},
	{type: 'choke'},
];
const stream = Buffer.concat([encodeHandshake(handshake), ...messages.map(encodeMessage)]);
const expected: WireFrame[] = [{type: 'handshake', handshake}, ...messages];

/** Buffers become plain objects for comparison: a view and a copy of the same bytes are equal. */
const normalise = (frames: unknown[]) => JSON.parse(JSON.stringify(frames)) as unknown;

/**
 * The frames of `chunks`, each taken as it is emitted, as a session must: a block is valid only
 * then. Every chunk is overwritten once handed over, as a socket's read buffer is.
 */
const frame = (chunks: Buffer[], maxLength = 1 << 20) =>
	lastValueFrom(
		borrowed(chunks).pipe(
			frameWire(maxLength),
			map((item) => normalise([item])),
			toArray(),
			map((items) => items.flat()),
		),
	);

/** Copies of `chunks`, each overwritten as soon as its emission returns. */
function borrowed(chunks: Buffer[]): Observable<Buffer> {
	return new Observable((subscriber) => {
		for (const chunk of chunks) {
			const copy = Buffer.from(chunk);
			subscriber.next(copy);
			copy.fill(0xee);
		}

		subscriber.complete();
	});
}

test('frames a whole stream delivered in one chunk', async (t) => {
	t.deepEqual(normalise(await frame([stream])), normalise(expected));
});

test('frames the same stream split in two at every byte position', async (t) => {
	for (let split = 1; split < stream.length; split++) {
		const frames = await frame([stream.subarray(0, split), stream.subarray(split)]);
		t.deepEqual(normalise(frames), normalise(expected), `split at ${split}`);
	}
});

test('frames the stream delivered one byte at a time, and in three uneven pieces everywhere', async (t) => {
	const bytes = Array.from({length: stream.length}, (_, index) => stream.subarray(index, index + 1));
	t.deepEqual(normalise(await frame(bytes)), normalise(expected));
	for (let first = 1; first < stream.length - 1; first += 7) {
		for (let second = first + 1; second < stream.length; second += 5) {
			const frames = await frame([
				stream.subarray(0, first),
				stream.subarray(first, second),
				stream.subarray(second),
			]);
			t.deepEqual(normalise(frames), normalise(expected), `split at ${first} and ${second}`);
		}
	}
});

test('a block inside one chunk is handed out without copying', (t) => {
	let shared: boolean | undefined;
	from([stream])
		.pipe(frameWire(1 << 20))
		.subscribe((item) => {
			if (item.type === 'piece') {
				shared = item.block.buffer === stream.buffer;
			}
		});
	t.true(shared);
});

test('other messages are copies: they stay intact after the chunk is reused', (t) => {
	const chunk = Buffer.from(stream);
	const kept: WireFrame[] = [];
	from([chunk])
		.pipe(frameWire(1 << 20))
		.subscribe((item) => kept.push(item));
	chunk.fill(0);
	const intact = normalise(kept.filter((item) => item.type !== 'piece'));
	t.deepEqual(intact, normalise(expected.filter((item) => item.type !== 'piece')));
});

test('a length prefix is not taken at its word: a frame that never arrives holds only what came', (t) => {
	const prefix = Buffer.alloc(5);
	prefix.writeUInt32BE(1 << 20);
	prefix[4] = 20;
	const before = process.memoryUsage().arrayBuffers;
	let failed = false;
	from([encodeHandshake(handshake), prefix, Buffer.alloc(100)])
		.pipe(frameWire(1 << 20))
		.subscribe({error: () => (failed = true)});
	t.false(failed);
	t.true(process.memoryUsage().arrayBuffers - before < 64 * 1024);
});

test('a length prefix above the cap is an error before its body arrives', async (t) => {
	const hostile = Buffer.alloc(4);
	hostile.writeUInt32BE(2 ** 31);
	await t.throwsAsync(frame([encodeHandshake(handshake), hostile], 1 << 17), {
		instanceOf: PeerProtocolError,
		message: 'message length 2147483648 exceeds 131072',
	});
});

test('anything but a BitTorrent handshake first is an error', async (t) => {
	await t.throwsAsync(frame([Buffer.from(`GET / HTTP/1.1\r\nHost: x\r\n\r\n${'x'.repeat(60)}`)]), {
		instanceOf: PeerProtocolError,
		message: 'not a BitTorrent handshake',
	});
});

test('a malformed message (have with 2 bytes) is an error', async (t) => {
	const bad = Buffer.from([0, 0, 0, 3, 4, 0, 1]);
	await t.throwsAsync(frame([encodeHandshake(handshake), bad]), {instanceOf: PeerProtocolError});
});
