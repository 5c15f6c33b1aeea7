import test from 'ava';
import fc from 'fast-check';
import {Observable} from 'rxjs';
import {Bitfield} from '../../source/codec/bitfield.js';
import {decodeHandshake, encodeHandshake, handshakeLength} from '../../source/codec/handshake.js';
import {decodeMessage, encodeMessage} from '../../source/codec/messages.js';
import {PeerProtocolError} from '../../source/errors.js';
import {frameWire, type WireFrame} from '../../source/peer/framer.js';
import {
	arrayBufferGrowth,
	cpuTime,
	expectOutcome,
	fuzzParameters,
	holds,
	invariant,
	timeBudgetMs,
} from './harness.js';
import {hostileUint32s, mutatedBytes} from './mutate.js';
import {handshake, knownMessageIds, peerMessage} from './seeds.js';

const runs = fuzzParameters(800);

/** What the framer gave for a stream: its frames, and the error that ended it, if one did. */
type Framed = {frames: WireFrame[]; error?: unknown; completed: boolean};

/**
 * Runs the framer over `chunks` as a socket delivers them, synchronously: each chunk is
 * borrowed, scribbled over once its emission returns (the socket reuses its read buffer), and a
 * piece's block is copied at once, as the framer asks of whoever keeps it.
 */
function frame(chunks: Buffer[], maxMessageLength: number): Framed {
	const framed: Framed = {frames: [], completed: false};
	const socket = new Observable<Buffer>((subscriber) => {
		for (const chunk of chunks) {
			const borrowed = Buffer.from(chunk);
			subscriber.next(borrowed);
			borrowed.fill(0xaa);
		}

		subscriber.complete();
	});
	socket.pipe(frameWire(maxMessageLength)).subscribe({
		next: (frame) =>
			framed.frames.push(frame.type === 'piece' ? {...frame, block: Buffer.from(frame.block)} : frame),
		error(error: unknown) {
			framed.error = error;
		},
		complete() {
			framed.completed = true;
		},
	});
	return framed;
}

/** Cuts `bytes` at the given points (taken modulo its length): how TCP might have delivered it. */
function chunk(bytes: Buffer, cuts: number[]): Buffer[] {
	const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b);
	const chunks: Buffer[] = [];
	let start = 0;
	for (const point of [...points, bytes.length]) {
		chunks.push(bytes.subarray(start, point));
		start = point;
	}

	return chunks;
}

/** A frame's bytes on the wire: decoding is exact, so these must be the bytes it came from. */
const encodeFrame = (frame: WireFrame) =>
	frame.type === 'handshake' ? encodeHandshake(frame.handshake) : encodeMessage(frame);

const maxMessageLength = fc.oneof(
	fc.constantFrom(64 * 1024, 9 + 128 * 1024),
	fc.integer({min: 0, max: 100}),
	fc.constant(0xff_ff_ff_ff),
);

const validStream = fc
	.tuple(handshake, fc.array(peerMessage, {maxLength: 12}))
	.map(([opening, messages]) => ({
		opening,
		messages,
		bytes: Buffer.concat([encodeHandshake(opening), ...messages.map(encodeMessage)]),
	}));

// ---------------------------------------------------------------------------------------------
// The framer

test('framer: a valid stream gives its frames however TCP cut it', (t) => {
	holds(
		t,
		fc.property(validStream, fc.array(fc.nat(), {maxLength: 20}), ({bytes, messages}, cuts) => {
			const framed = frame(chunk(bytes, cuts), 9 + 128 * 1024);
			invariant(framed.error === undefined && framed.completed, 'the stream completes without error');
			invariant(framed.frames.length === messages.length + 1, 'a frame for the handshake and each message');
			invariant(Buffer.concat(framed.frames.map(encodeFrame)).equals(bytes), 'the frames are the stream');
		}),
		runs,
	);
});

test('framer: a mutated stream gives frames of what it holds, then at most a PeerProtocolError', (t) => {
	holds(
		t,
		fc.property(
			mutatedBytes(validStream.map(({bytes}) => bytes)),
			fc.array(fc.nat(), {maxLength: 20}),
			maxMessageLength,
			({mutated}, cuts, max) => {
				let framed: Framed = {frames: [], completed: false};
				const elapsed = cpuTime(() => {
					framed = frame(chunk(mutated, cuts), max);
				});
				invariant(elapsed < timeBudgetMs, `framing took ${elapsed} ms`);
				if (framed.error !== undefined) {
					if (!(framed.error instanceof PeerProtocolError)) {
						throw framed.error;
					}

					invariant(!framed.completed, 'an error ends the stream');
				} else {
					invariant(framed.completed, 'the stream completes');
				}

				const consumed = Buffer.concat(framed.frames.map(encodeFrame));
				invariant(
					consumed.equals(mutated.subarray(0, consumed.length)),
					'the frames are the stream’s bytes in order',
				);
				invariant(
					framed.frames.every((frame, index) => (index === 0) === (frame.type === 'handshake')),
					'the handshake first, once',
				);
				invariant(
					framed.frames.every((frame) => frame.type === 'handshake' || encodeFrame(frame).length - 4 <= max),
					'no message over the limit',
				);
			},
		),
		runs,
	);
});

test('framer: random bytes after a valid handshake give frames or a PeerProtocolError', (t) => {
	holds(
		t,
		fc.property(
			handshake,
			fc.array(
				fc.oneof(
					fc.uint8Array({maxLength: 16}),
					fc.constantFrom(...hostileUint32s).map((value) => {
						const prefix = Buffer.alloc(4);
						prefix.writeUInt32BE(value);
						return prefix;
					}),
				),
				{maxLength: 20},
			),
			maxMessageLength,
			(opening, parts, max) => {
				const framed = frame([encodeHandshake(opening), ...parts.map((part) => Buffer.from(part))], max);
				if (framed.error !== undefined && !(framed.error instanceof PeerProtocolError)) {
					throw framed.error;
				}

				invariant(framed.frames[0]?.type === 'handshake', 'the handshake');
			},
		),
		runs,
	);
});

test('framer: a 2 GiB or 4 GiB length prefix is a PeerProtocolError at once, allocating nothing', (t) => {
	for (const prefix of [0x80_00_00_00, 0xff_ff_ff_ff, 0x7f_ff_ff_ff, 9 + 128 * 1024 + 1]) {
		const head = Buffer.alloc(4);
		head.writeUInt32BE(prefix);
		const opening = encodeHandshake({
			reserved: Buffer.alloc(8),
			infoHash: Buffer.alloc(20),
			peerId: Buffer.alloc(20),
		});
		let framed: Framed | undefined;
		const growth = arrayBufferGrowth(() => {
			framed = frame([opening, head, Buffer.alloc(1024)], 9 + 128 * 1024);
		});
		t.true(framed?.error instanceof PeerProtocolError, `prefix ${prefix}`);
		t.true(growth < 16 * 1024 * 1024, `prefix ${prefix}: ArrayBuffers grew by ${growth} bytes`);
	}
});

test('framer: even with no limit, a 2 GiB prefix buffers only the bytes that came', (t) => {
	const head = Buffer.alloc(4);
	head.writeUInt32BE(0x80_00_00_00);
	const opening = encodeHandshake({
		reserved: Buffer.alloc(8),
		infoHash: Buffer.alloc(20),
		peerId: Buffer.alloc(20),
	});
	const body = Array.from({length: 256}, () => Buffer.alloc(4096, 7));
	let framed: Framed | undefined;
	const growth = arrayBufferGrowth(() => {
		framed = frame([opening, head, ...body], 0xff_ff_ff_ff);
	});
	t.deepEqual(
		framed?.frames.map((frame) => frame.type),
		['handshake'],
		'still waiting for the message',
	);
	t.is(framed?.error, undefined);
	t.true(growth < 16 * 1024 * 1024, `ArrayBuffers grew by ${growth} bytes for 1 MiB of input`);
});

test('framer: a 128 KiB piece delivered a byte at a time is framed in linear time', (t) => {
	const opening = encodeHandshake({
		reserved: Buffer.alloc(8),
		infoHash: Buffer.alloc(20),
		peerId: Buffer.alloc(20),
	});
	const piece = encodeMessage({type: 'piece', index: 1, begin: 0, block: Buffer.alloc(128 * 1024, 3)});
	const bytes = Buffer.concat([opening, piece]);
	const chunks = Array.from({length: bytes.length}, (_, index) => bytes.subarray(index, index + 1));
	let framed: Framed = {frames: [], completed: false};
	const elapsed = cpuTime(() => {
		framed = frame(chunks, 9 + 128 * 1024);
	});
	t.deepEqual(
		framed.frames.map((frame) => frame.type),
		['handshake', 'piece'],
	);
	t.true(elapsed < 2000, `${Math.round(elapsed)} ms`);
});

// ---------------------------------------------------------------------------------------------
// Peer messages (BEP 3, 6, 10)

test('messages: every message decodes from its encoding', (t) => {
	holds(
		t,
		fc.property(peerMessage, (message) => {
			const encoded = encodeMessage(message);
			invariant(encoded.readUInt32BE(0) === encoded.length - 4, 'the length prefix');
			const decoded = decodeMessage(encoded.subarray(4));
			invariant(JSON.stringify(decoded) === JSON.stringify(message), `${message.type} round-trips`);
		}),
		runs,
	);
});

/** A message body: a known id (mostly) and a payload around the length that id expects. */
const messageBody = fc
	.tuple(
		fc.oneof({arbitrary: fc.constantFrom(...knownMessageIds), weight: 4}, fc.integer({min: 0, max: 255})),
		fc.oneof(fc.uint8Array({maxLength: 16}), fc.uint8Array({maxLength: 2})),
	)
	.map(([id, payload]) => Buffer.concat([Buffer.from([id]), payload]));

test('messages: any body decodes to a message that re-encodes to it, or a PeerProtocolError', (t) => {
	holds(
		t,
		fc.property(
			fc.oneof(
				messageBody,
				fc.uint8Array({maxLength: 20}).map((bytes) => Buffer.from(bytes)),
				mutatedBytes(peerMessage.map((message) => encodeMessage(message).subarray(4))).map(
					({mutated}) => mutated,
				),
			),
			(body) => {
				const outcome = expectOutcome(() => decodeMessage(body), [PeerProtocolError]);
				if (outcome.ok) {
					invariant(
						encodeMessage(outcome.value).subarray(4).equals(body),
						`${outcome.value.type} re-encodes to its body`,
					);
				}
			},
		),
		runs,
	);
});

test('messages: a bitfield of any bytes for any piece count is a Bitfield of that count, or a PeerProtocolError', (t) => {
	holds(
		t,
		fc.property(
			fc
				.integer({min: 0, max: 300})
				.chain((pieceCount) =>
					fc.tuple(
						fc.constant(pieceCount),
						fc.oneof(
							fc.uint8Array({minLength: Math.ceil(pieceCount / 8), maxLength: Math.ceil(pieceCount / 8)}),
							fc.uint8Array({maxLength: 40}),
						),
					),
				),
			([pieceCount, bytes]) => {
				const outcome = expectOutcome(
					() => Bitfield.fromWire(Buffer.from(bytes), pieceCount),
					[PeerProtocolError],
				);
				if (outcome.ok) {
					const bitfield = outcome.value;
					invariant(bitfield.length === pieceCount, 'the piece count');
					const set = Array.from({length: pieceCount}, (_, index) => bitfield.has(index)).filter(
						Boolean,
					).length;
					invariant(bitfield.count === set, 'count is the number of pieces set');
					invariant(!bitfield.has(pieceCount), 'no piece past the end');
				}
			},
		),
		runs,
	);
});

// ---------------------------------------------------------------------------------------------
// The handshake (BEP 3)

test('handshake: any bytes decode to a handshake that re-encodes to them, or a PeerProtocolError', (t) => {
	holds(
		t,
		fc.property(
			fc.oneof(
				fc.uint8Array({maxLength: 80}).map((bytes) => Buffer.from(bytes)),
				handshake.map(encodeHandshake),
				mutatedBytes(handshake.map(encodeHandshake)).map(({mutated}) => mutated),
			),
			(bytes) => {
				const outcome = expectOutcome(() => decodeHandshake(bytes), [PeerProtocolError]);
				if (outcome.ok) {
					invariant(bytes.length === handshakeLength, '68 bytes');
					invariant(encodeHandshake(outcome.value).equals(bytes), 'the same handshake');
				}
			},
		),
		runs,
	);
});
