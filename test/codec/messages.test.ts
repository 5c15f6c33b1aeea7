import test from 'ava';
import {
	blockLength,
	decodeMessage,
	encodeMessage,
	MessageId,
	type PeerMessage,
} from '../../source/codec/messages.js';
import {PeerProtocolError} from '../../source/errors.js';

const hex = (text: string) => Buffer.from(text.replaceAll(' ', ''), 'hex');

/** The body the framer hands to `decodeMessage`: the encoding without its 4-byte length prefix. */
const body = (encoded: Buffer) => encoded.subarray(4);

// Each message beside its BEP 3 layout and the exact bytes that layout gives.
const layouts: Array<[layout: string, message: PeerMessage, bytes: string]> = [
	['<len=0000>', {type: 'keep-alive'}, '00000000'],
	['<len=0001><id=0>', {type: 'choke'}, '00000001 00'],
	['<len=0001><id=1>', {type: 'unchoke'}, '00000001 01'],
	['<len=0001><id=2>', {type: 'interested'}, '00000001 02'],
	['<len=0001><id=3>', {type: 'not-interested'}, '00000001 03'],
	['<len=0005><id=4><piece index>', {type: 'have', index: 0x01_02_03_04}, '00000005 04 01020304'],
	['<len=0001+X><id=5><bitfield>', {type: 'bitfield', bitfield: hex('f0a5')}, '00000003 05 f0a5'],
	[
		'<len=0013><id=6><index><begin><length>',
		{type: 'request', index: 7, begin: 0x4000, length: blockLength},
		'0000000d 06 00000007 00004000 00004000',
	],
	[
		'<len=0009+X><id=7><index><begin><block>',
		{type: 'piece', index: 0xff_ff_ff_fe, begin: 16, block: hex('deadbeef')},
		'0000000d 07 fffffffe 00000010 deadbeef',
	],
	[
		'<len=0013><id=8><index><begin><length>',
		{type: 'cancel', index: 1, begin: 2, length: 3},
		'0000000d 08 00000001 00000002 00000003',
	],
	['<len=0003><id=9><listen-port>', {type: 'port', port: 6881}, '00000003 09 1ae1'],
];

for (const [layout, message, bytes] of layouts) {
	test(`${message.type}: encodes as ${layout} and decodes back`, (t) => {
		const encoded = encodeMessage(message);
		t.is(encoded.toString('hex'), hex(bytes).toString('hex'));
		t.is(encoded.readUInt32BE(0), encoded.length - 4, 'the length prefix counts the bytes after it');
		t.deepEqual(decodeMessage(body(encoded)), message);
	});
}

test('message ids are the ones of BEP 3, BEP 6 and BEP 10', (t) => {
	t.deepEqual(Object.values(MessageId), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 14, 15, 16, 17, 20]);
	t.is(blockLength, 16_384);
});

test('a piece with an empty block and an empty bitfield still round-trip', (t) => {
	const piece: PeerMessage = {type: 'piece', index: 3, begin: 0, block: Buffer.alloc(0)};
	t.deepEqual(encodeMessage(piece), hex('00000009 07 00000003 00000000'));
	t.deepEqual(decodeMessage(body(encodeMessage(piece))), piece);
	const bitfield: PeerMessage = {type: 'bitfield', bitfield: Buffer.alloc(0)};
	t.is(encodeMessage(bitfield).toString('hex'), '0000000105');
	t.deepEqual(decodeMessage(body(encodeMessage(bitfield))), bitfield);
});

test('a full 16 KiB block keeps every byte', (t) => {
	const block = Buffer.alloc(blockLength, 0);
	for (let index = 0; index < block.length; index++) {
		block.writeUInt8(index % 251, index);
	}

	const encoded = encodeMessage({type: 'piece', index: 9, begin: 32_768, block});
	t.is(encoded.length, 4 + 9 + blockLength);
	t.is(encoded.readUInt32BE(0), 9 + blockLength);
	const decoded = decodeMessage(body(encoded));
	t.is(decoded.type, 'piece');
	if (decoded.type === 'piece') {
		t.is(decoded.index, 9);
		t.is(decoded.begin, 32_768);
		t.true(decoded.block.equals(block));
	}
});

test('extended messages (BEP 10) carry their extension id and payload; round-trip', (t) => {
	const handshake: PeerMessage = {type: 'extended', extension: 0, payload: hex('64 31 3a 61 69 31 65 65')};
	t.deepEqual(encodeMessage(handshake), hex('0000000a 14 00 64 31 3a 61 69 31 65 65'));
	t.deepEqual(decodeMessage(body(encodeMessage(handshake))), handshake);
	t.throws(() => decodeMessage(hex('14')), {instanceOf: PeerProtocolError});
});

test('unknown ids decode as "unknown" with their payload, not as an error', (t) => {
	t.deepEqual(decodeMessage(hex('15')), {type: 'unknown', id: 21, payload: Buffer.alloc(0)});
	t.deepEqual(decodeMessage(hex('ff 01 02')), {type: 'unknown', id: 255, payload: hex('0102')});
});

test('an unknown message re-encodes to its own bytes', (t) => {
	t.deepEqual(encodeMessage({type: 'unknown', id: 20, payload: hex('0001')}), hex('00000003 14 0001'));
});

const wrongLengths: Array<[what: string, bodyHex: string, message: RegExp]> = [
	['choke with a payload', '00 00', /choke message has 1 payload bytes, expected 0/],
	['unchoke with a payload', '01 0000', /unchoke message has 2 payload bytes, expected 0/],
	['interested with a payload', '02 00', /interested message has 1 payload bytes, expected 0/],
	['not-interested with a payload', '03 00', /not interested message has 1 payload bytes, expected 0/],
	['have with 3 bytes', '04 000001', /have message has 3 payload bytes, expected 4/],
	['have with 5 bytes', '04 0000000100', /have message has 5 payload bytes, expected 4/],
	[
		'request with 11 bytes',
		'06 00000000 00000000 000040',
		/request message has 11 payload bytes, expected 12/,
	],
	['request with 13 bytes', '06 00000000 00000000 00004000 00', /request message has 13 payload bytes/],
	['cancel with 8 bytes', '08 00000000 00000000', /cancel message has 8 payload bytes, expected 12/],
	['piece without begin', '07 00000001 0000', /piece message has only 6 payload bytes/],
	['piece with nothing', '07', /piece message has only 0 payload bytes/],
	['port with 1 byte', '09 1a', /port message has 1 payload bytes, expected 2/],
	['port with 3 bytes', '09 1ae100', /port message has 3 payload bytes, expected 2/],
];

for (const [what, bodyHex, message] of wrongLengths) {
	test(`rejects ${what} with a PeerProtocolError`, (t) => {
		t.throws(() => decodeMessage(hex(bodyHex)), {instanceOf: PeerProtocolError, message});
	});
}

test('the block of a decoded piece is a view into the body, not a copy', (t) => {
	const frame = hex('07 00000000 00000000 aabb');
	const decoded = decodeMessage(frame);
	t.is(decoded.type, 'piece');
	if (decoded.type === 'piece') {
		t.is(decoded.block.buffer, frame.buffer);
		t.is(decoded.block.byteOffset, frame.byteOffset + 9);
	}
});

test('the fast extension (BEP 6): layouts and round trips', (t) => {
	const cases: Array<[PeerMessage, string]> = [
		[{type: 'have-all'}, '00000001 0e'],
		[{type: 'have-none'}, '00000001 0f'],
		[{type: 'suggest', index: 7}, '00000005 0d 00000007'],
		[{type: 'allowed-fast', index: 9}, '00000005 11 00000009'],
		[{type: 'reject', index: 1, begin: 16_384, length: 16_384}, '0000000d 10 00000001 00004000 00004000'],
	];
	for (const [message, bytes] of cases) {
		t.deepEqual(encodeMessage(message), hex(bytes), message.type);
		t.deepEqual(decodeMessage(body(encodeMessage(message))), message, message.type);
	}

	t.throws(() => decodeMessage(hex('0e 00')), {instanceOf: PeerProtocolError});
	t.throws(() => decodeMessage(hex('10 00000001')), {instanceOf: PeerProtocolError});
});
