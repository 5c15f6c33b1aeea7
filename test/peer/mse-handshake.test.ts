import test from 'ava';
import {
	cryptoPlaintext,
	cryptoRc4,
	MseKeyPair,
	mseCiphers,
	req1Hash,
	req2Hash,
	torrentMarker,
} from '../../source/codec/mse-crypto.js';
import {PeerProtocolError} from '../../source/errors.js';
import type {MseOutcome} from '../../source/peer/mse-handshake.js';
import {MseInitiator} from '../../source/peer/mse-initiator.js';
import {MseReceiver, type MseReceiverOptions} from '../../source/peer/mse-receiver.js';

const infoHash = Buffer.alloc(20, 0xab);
const otherTorrent = Buffer.alloc(20, 0xcd);
const served = new Map([infoHash, otherTorrent].map((hash) => [req2Hash(hash).toString('hex'), hash]));
/** Stands for our BitTorrent handshake, carried inside A's last message. */
const initialPayload = Buffer.from('A BitTorrent handshake, 68 bytes or so');
/** What B sends right after its crypto_select, in the same segment. */
const reply = Buffer.from('B answers at once');

/** A deterministic random source: the padding lengths differ from seed to seed. */
function seeded(seed: number) {
	let state = seed;
	return (length: number) =>
		Buffer.from(
			Array.from({length}, () => {
				state = (state * 1_103_515_245 + 12_345) & 0x7f_ff_ff_ff;
				return state >> 16;
			}),
		);
}

const splitAt = (chunk: Buffer, at: number) =>
	at > 0 && at < chunk.length ? [chunk.subarray(0, at), chunk.subarray(at)] : [chunk];

/**
 * Both sides of a handshake, each transmission cut at `split` (or delivered a byte at a time),
 * until both are done; B's first payload goes out with its crypto_select.
 */
function handshake({
	split = 0,
	bytewise = false,
	provide = cryptoRc4 | cryptoPlaintext,
	choose = (provided: number) => (provided & cryptoRc4 ? cryptoRc4 : cryptoPlaintext),
	seed = 1,
}: {
	split?: number;
	bytewise?: boolean;
	provide?: number;
	choose?: MseReceiverOptions['choose'];
	seed?: number;
}) {
	const a = new MseInitiator({infoHash, provide, initialPayload, random: seeded(seed)});
	const b = new MseReceiver({served, choose, random: seeded(seed + 1)});
	let initiator: MseOutcome | undefined;
	let receiver: MseOutcome | undefined;
	const cut = (chunk: Buffer) =>
		bytewise ? [...chunk].map((byte) => Buffer.of(byte)) : splitAt(chunk, split);
	let toB = [a.start()];
	let toA: Buffer[] = [];
	while (toB.length > 0 || toA.length > 0) {
		for (const piece of toB.flatMap(cut)) {
			const step = b.receive(piece);
			toA.push(...step.send);
			if (step.done) {
				receiver = step.done;
				const payload = Buffer.from(reply);
				step.done.ciphers?.encrypt.apply(payload);
				toA.push(Buffer.concat([toA.pop() ?? Buffer.alloc(0), payload]));
			}
		}

		toB = [];
		for (const piece of toA.flatMap(cut)) {
			if (initiator) {
				initiator.payload = Buffer.concat([initiator.payload, decrypted(initiator, piece)]);
				continue;
			}

			const step = a.receive(piece);
			toB.push(...step.send);
			initiator = step.done ?? initiator;
		}

		toA = [];
	}

	return {initiator, receiver};
}

const decrypted = (outcome: MseOutcome, piece: Buffer) => {
	const copy = Buffer.from(piece);
	outcome.ciphers?.decrypt.apply(copy);
	return copy;
};

test('both sides agree at every split of every message: RC4, the torrent, the payload each way', (t) => {
	for (let split = 0; split <= 700; split++) {
		const {initiator, receiver} = handshake({split, seed: split});
		const where = `split at ${split}`;
		t.is(receiver?.protection, 'rc4', where);
		t.is(initiator?.protection, 'rc4', where);
		t.deepEqual(receiver?.infoHash, infoHash, where);
		t.deepEqual(receiver?.payload, initialPayload, where);
		t.deepEqual(initiator?.payload, reply, where);
	}
});

test('a peer that trickles its handshake a byte at a time gets the same result', (t) => {
	const {initiator, receiver} = handshake({bytewise: true});
	t.deepEqual(receiver?.payload, initialPayload);
	t.deepEqual(initiator?.payload, reply);
});

test('the receiver’s choice: plaintext when chosen, and then the stream after the handshake is not encrypted', (t) => {
	const {initiator, receiver} = handshake({choose: () => cryptoPlaintext});
	t.is(receiver?.protection, 'plaintext');
	t.is(initiator?.protection, 'plaintext');
	t.is(initiator?.ciphers, undefined);
	t.deepEqual(receiver?.payload, initialPayload, 'the IA is always encrypted, and decrypted');
	t.deepEqual(initiator?.payload, reply);
});

test('RC4 only on offer: RC4, whatever the receiver would rather', (t) => {
	const {initiator} = handshake({provide: cryptoRc4, choose: (provided) => provided});
	t.is(initiator?.protection, 'rc4');
});

test('nothing in common: the receiver ends it', (t) => {
	t.throws(() => handshake({provide: cryptoPlaintext, choose: () => 0}), {
		instanceOf: PeerProtocolError,
		message: /no MSE method in common/,
	});
});

test('a public key out of range (all ones) ends it at once', (t) => {
	const b = new MseReceiver({served, choose: () => cryptoRc4});
	t.throws(() => b.receive(Buffer.alloc(96, 0xff)), {instanceOf: PeerProtocolError, message: /out of range/});
});

test('no HASH(req1) within 512 bytes of padding: dropped once 532 bytes have come, not before', (t) => {
	const b = new MseReceiver({served, choose: () => cryptoRc4});
	b.receive(new MseKeyPair().publicKey);
	t.notThrows(() => b.receive(Buffer.alloc(531, 7)));
	t.throws(() => b.receive(Buffer.alloc(1, 7)), {instanceOf: PeerProtocolError, message: /no MSE request/});
});

test('no verification constant within 512 bytes of padding: the initiator drops it', (t) => {
	const a = new MseInitiator({infoHash, provide: cryptoRc4, initialPayload});
	a.start();
	a.receive(new MseKeyPair().publicKey);
	t.throws(() => a.receive(Buffer.alloc(600, 7)), {
		instanceOf: PeerProtocolError,
		message: /no MSE verification constant/,
	});
});

/** A's second message written by hand, with `fields` as they would be encrypted. */
function requestFrom(
	a: MseKeyPair,
	bPublic: Buffer,
	torrent: Buffer,
	{provide = cryptoRc4, padC = 0, ia = 68} = {},
) {
	const secret = a.sharedSecret(bPublic);
	const header = Buffer.alloc(16);
	header.writeUInt32BE(provide, 8);
	header.writeUInt16BE(padC, 12);
	const body = Buffer.concat([header.subarray(0, 14), Buffer.alloc(padC), Buffer.alloc(2), Buffer.alloc(ia)]);
	body.writeUInt16BE(ia, 14 + padC);
	mseCiphers(secret, torrent, true).encrypt.apply(body);
	return Buffer.concat([req1Hash(secret), torrentMarker(torrent, secret), body]);
}

for (const [title, options, message] of [
	['a torrent we do not serve', {torrent: Buffer.alloc(20, 1)}, /torrent we do not serve/],
	['a PadC of 513 bytes', {padC: 513}, /padding of 513 bytes/],
	['an initial payload of 1,025 bytes', {ia: 1025}, /initial payload of 1025 bytes/],
] as const) {
	test(`${title} ends it`, (t) => {
		const a = new MseKeyPair();
		const bKeys = new MseKeyPair();
		const b = new MseReceiver({served, choose: () => cryptoRc4, keyPair: bKeys});
		b.receive(a.publicKey);
		const {torrent = infoHash, ...fields} = options as {torrent?: Buffer; padC?: number; ia?: number};
		t.throws(() => b.receive(requestFrom(a, bKeys.publicKey, torrent, fields)), {
			instanceOf: PeerProtocolError,
			message,
		});
	});
}

test('a crypto_select the initiator did not offer ends it', (t) => {
	const aKeys = new MseKeyPair();
	const bKeys = new MseKeyPair();
	const a = new MseInitiator({infoHash, provide: cryptoRc4, initialPayload, keyPair: aKeys});
	a.start();
	a.receive(bKeys.publicKey);
	const select = Buffer.alloc(14);
	select.writeUInt32BE(cryptoPlaintext, 8);
	mseCiphers(bKeys.sharedSecret(aKeys.publicKey), infoHash, false).encrypt.apply(select);
	t.throws(() => a.receive(select), {
		instanceOf: PeerProtocolError,
		message: /crypto_select 1 is not one we offered/,
	});
});

test('once done, the handshake takes no more bytes: they are the payload', (t) => {
	const a = new MseInitiator({infoHash, provide: cryptoRc4, initialPayload});
	const b = new MseReceiver({served, choose: () => cryptoRc4});
	const [keyB] = b.receive(a.start()).send;
	const [request] = a.receive(keyB ?? Buffer.alloc(0)).send;
	const step = b.receive(request ?? Buffer.alloc(0));
	t.truthy(step.done);
	t.throws(() => b.receive(Buffer.alloc(1)), {message: /is over/});
});
