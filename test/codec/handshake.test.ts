import test from 'ava';
import {
	decodeHandshake,
	encodeHandshake,
	type Handshake,
	handshakeLength,
} from '../../source/codec/handshake.js';
import {PeerProtocolError} from '../../source/errors.js';

const infoHash = Buffer.from('0123456789abcdef0123456789abcdef01234567', 'hex');
const peerId = Buffer.from('-RX0001-abcdefghijkl', 'latin1');
// BEP 10 (extension protocol) sets bit 20, i.e. 0x10 in reserved byte 5; BEP 5 (DHT) bit 0 of byte 7.
const reserved = Buffer.from('0000000000100001', 'hex');

const handshake: Handshake = {reserved, infoHash, peerId};

test('encodes <pstrlen=19><pstr><reserved><info_hash><peer_id> in 68 bytes', (t) => {
	const encoded = encodeHandshake(handshake);
	t.is(handshakeLength, 68);
	t.is(encoded.length, 68);
	t.is(encoded.readUInt8(0), 19);
	t.is(encoded.subarray(1, 20).toString('latin1'), 'BitTorrent protocol');
	t.is(encoded.subarray(20, 28).toString('hex'), '0000000000100001');
	t.is(encoded.subarray(28, 48).toString('hex'), '0123456789abcdef0123456789abcdef01234567');
	t.is(encoded.subarray(48, 68).toString('latin1'), '-RX0001-abcdefghijkl');
	t.is(
		encoded.toString('hex'),
		`13${Buffer.from('BitTorrent protocol').toString('hex')}0000000000100001${infoHash.toString('hex')}${peerId.toString('hex')}`,
	);
});

test('round-trips through decode', (t) => {
	t.deepEqual(decodeHandshake(encodeHandshake(handshake)), handshake);
});

test('the decoded fields are copies, not views into the socket buffer', (t) => {
	const encoded = encodeHandshake(handshake);
	const decoded = decodeHandshake(encoded);
	encoded.fill(0);
	t.deepEqual(decoded, handshake);
});

test('rejects a wrong protocol string', (t) => {
	const encoded = encodeHandshake(handshake);
	encoded.write('BitTorrent Protocol', 1, 'latin1');
	t.throws(() => decodeHandshake(encoded), {
		instanceOf: PeerProtocolError,
		message: /not a BitTorrent handshake/,
	});
});

test('rejects a wrong protocol string length', (t) => {
	const encoded = encodeHandshake(handshake);
	encoded.writeUInt8(18, 0);
	t.throws(() => decodeHandshake(encoded), {
		instanceOf: PeerProtocolError,
		message: /not a BitTorrent handshake/,
	});
});

for (const length of [0, 67, 69]) {
	test(`rejects a handshake of ${length} bytes`, (t) => {
		const encoded = encodeHandshake(handshake);
		const bytes = length <= 68 ? encoded.subarray(0, length) : Buffer.concat([encoded, Buffer.alloc(1)]);
		t.throws(() => decodeHandshake(bytes), {
			instanceOf: PeerProtocolError,
			message: `handshake is ${length} bytes, not 68`,
		});
	});
}
