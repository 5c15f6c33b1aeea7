import test from 'ava';
import {Bitfield} from '../../source/codec/bitfield.js';
import {PeerProtocolError} from '../../source/errors.js';

test('fromWire reads the high bit of byte 0 as piece 0', (t) => {
	const bitfield = Bitfield.fromWire(Buffer.from([0b1010_0000, 0b0000_0001]), 16);
	t.true(bitfield.has(0));
	t.false(bitfield.has(1));
	t.true(bitfield.has(2));
	t.false(bitfield.has(8));
	t.true(bitfield.has(15));
	t.is(bitfield.count, 3);
	t.false(bitfield.complete);
});

test('fromWire accepts a short last byte with its spare bits clear', (t) => {
	const bitfield = Bitfield.fromWire(Buffer.from([0xff, 0b1110_0000]), 11);
	t.is(bitfield.count, 11);
	t.true(bitfield.complete);
	t.true(bitfield.has(10));
	t.false(bitfield.has(11), 'a spare bit is never a piece');
});

test('fromWire copies the bytes it is given', (t) => {
	const wire = Buffer.from([0x80]);
	const bitfield = Bitfield.fromWire(wire, 8);
	wire.writeUInt8(0xff, 0);
	t.is(bitfield.count, 1);
	t.false(bitfield.has(1));
});

for (const [bytes, pieceCount] of [
	[[], 1],
	[[0x00], 9],
	[[0x00, 0x00], 8],
	[[0x00, 0x00, 0x00], 9],
] as const) {
	test(`fromWire rejects ${bytes.length} bytes for ${pieceCount} pieces`, (t) => {
		t.throws(() => Bitfield.fromWire(Buffer.from(bytes), pieceCount), {
			instanceOf: PeerProtocolError,
			message: `bitfield is ${bytes.length} bytes, expected ${Math.ceil(pieceCount / 8)}`,
		});
	});
}

for (const [last, pieceCount] of [
	[0b0000_0001, 9],
	[0b0100_0000, 9],
	[0b0000_1000, 12],
	[0b0000_0001, 15],
] as const) {
	test(`fromWire rejects spare bit 0x${last.toString(16)} set with ${pieceCount} pieces`, (t) => {
		t.throws(() => Bitfield.fromWire(Buffer.from([0xff, last]), pieceCount), {
			instanceOf: PeerProtocolError,
			message: /spare bits set/,
		});
	});
}

test('a new bitfield is empty and sized ⌈length/8⌉', (t) => {
	const bitfield = new Bitfield(10);
	t.is(bitfield.bytes.length, 2);
	t.is(bitfield.count, 0);
	t.false(bitfield.complete);
	t.false(bitfield.has(0));
});

test('set marks a piece once and keeps the count', (t) => {
	const bitfield = new Bitfield(10);
	t.true(bitfield.set(0));
	t.true(bitfield.set(9));
	t.false(bitfield.set(9), 'setting twice reports it was already set');
	t.is(bitfield.count, 2);
	t.true(bitfield.has(0));
	t.true(bitfield.has(9));
	t.false(bitfield.has(8));
	t.is(bitfield.bytes.toString('hex'), '8040');
});

test('set refuses an index outside the torrent', (t) => {
	const bitfield = new Bitfield(10);
	t.throws(() => bitfield.set(10), {instanceOf: RangeError});
	t.throws(() => bitfield.set(-1), {instanceOf: RangeError});
	t.is(bitfield.count, 0);
});

test('setAll completes it without touching spare bits', (t) => {
	const bitfield = new Bitfield(10);
	bitfield.set(3);
	bitfield.setAll();
	t.true(bitfield.complete);
	t.is(bitfield.count, 10);
	t.is(bitfield.bytes.toString('hex'), 'ffc0');
	t.notThrows(() => Bitfield.fromWire(bitfield.bytes, 10));
});

test('has is false past the end', (t) => {
	const bitfield = Bitfield.fromWire(Buffer.from([0xff]), 8);
	t.false(bitfield.has(8));
	t.false(bitfield.has(100));
});
