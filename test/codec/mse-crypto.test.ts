import {createHash, randomBytes} from 'node:crypto';
import test from 'ava';
import {
	findTorrent,
	isValidPublicKey,
	MseKeyPair,
	mseCiphers,
	mseKeyLength,
	msePrime,
	req1Hash,
	req2Hash,
	torrentMarker,
} from '../../source/codec/mse-crypto.js';
import {Rc4} from '../../source/codec/rc4.js';

const big = (bytes: Uint8Array) => BigInt(`0x${Buffer.from(bytes).toString('hex')}`);
const bytes96 = (value: bigint) => Buffer.from(value.toString(16).padStart(2 * mseKeyLength, '0'), 'hex');
function modPow(base: bigint, exponent: bigint, modulus: bigint): bigint {
	let result = 1n;
	let square = base % modulus;
	for (let rest = exponent; rest > 0n; rest >>= 1n) {
		if (rest & 1n) {
			result = (result * square) % modulus;
		}

		square = (square * square) % modulus;
	}

	return result;
}

test('both sides reach the same 96-byte secret, and the public key is 2^X mod P', (t) => {
	const privateKey = randomBytes(20);
	const ours = new MseKeyPair(privateKey);
	const theirs = new MseKeyPair();
	t.is(ours.publicKey.length, mseKeyLength);
	t.deepEqual(ours.publicKey, bytes96(modPow(2n, big(privateKey), big(msePrime))));
	const secret = ours.sharedSecret(theirs.publicKey);
	t.is(secret.length, mseKeyLength);
	t.deepEqual(secret, theirs.sharedSecret(ours.publicKey));
	t.deepEqual(secret, bytes96(modPow(big(theirs.publicKey), big(privateKey), big(msePrime))));
});

test('a small key pads to 96 bytes: a private key of 1 sends 2', (t) => {
	const pair = new MseKeyPair(Buffer.from([1]));
	t.deepEqual(pair.publicKey, bytes96(2n));
});

test('a public key that is not 96 bytes in 2 … P − 2 is refused before any work', (t) => {
	const p = big(msePrime);
	for (const [name, key] of [
		['0', bytes96(0n)],
		['1', bytes96(1n)],
		['P − 1', bytes96(p - 1n)],
		['P', bytes96(p)],
		['all ones', Buffer.alloc(96, 0xff)],
		['95 bytes', randomBytes(95)],
		['97 bytes', Buffer.concat([Buffer.alloc(1), bytes96(5n)])],
	] as const) {
		t.false(isValidPublicKey(key), name);
		t.throws(() => new MseKeyPair().sharedSecret(key), {instanceOf: RangeError}, name);
	}

	t.true(isValidPublicKey(bytes96(2n)));
	t.true(isValidPublicKey(bytes96(p - 2n)));
});

test('the tagged hashes are SHA-1 of the tag and the bytes', (t) => {
	const secret = randomBytes(96);
	const infoHash = randomBytes(20);
	const sha1 = (...parts: Buffer[]) => createHash('sha1').update(Buffer.concat(parts)).digest();
	t.deepEqual(req1Hash(secret), sha1(Buffer.from('req1'), secret));
	t.deepEqual(req2Hash(infoHash), sha1(Buffer.from('req2'), infoHash));
	const mask = sha1(Buffer.from('req3'), secret);
	const expected = Buffer.from(req2Hash(infoHash).map((byte, index) => byte ^ (mask[index] ?? 0)));
	t.deepEqual(torrentMarker(infoHash, secret), expected);
});

test('the receiver finds the torrent asked for among those it serves, and no other', (t) => {
	const secret = randomBytes(96);
	const torrents = [randomBytes(20), randomBytes(20), randomBytes(20)];
	const served = new Map(torrents.map((infoHash, index) => [req2Hash(infoHash).toString('hex'), index]));
	t.is(findTorrent(torrentMarker(torrents[1] as Buffer, secret), secret, served), 1);
	t.is(findTorrent(torrentMarker(torrents[2] as Buffer, secret), secret, served), 2);
	t.is(findTorrent(torrentMarker(randomBytes(20), secret), secret, served), undefined);
	t.is(
		findTorrent(torrentMarker(torrents[0] as Buffer, randomBytes(96)), secret, served),
		undefined,
		'another S',
	);
});

test('what one side encrypts the other decrypts, each way, keyed by S and the info hash after 1024 bytes', (t) => {
	const secret = randomBytes(96);
	const infoHash = randomBytes(20);
	const initiator = mseCiphers(secret, infoHash, true);
	const receiver = mseCiphers(secret, infoHash, false);
	const message = randomBytes(1000);
	for (const [from, to, tag] of [
		[initiator, receiver, 'keyA'],
		[receiver, initiator, 'keyB'],
	] as const) {
		const wire = Buffer.from(message);
		from.encrypt.apply(wire);
		// RC4 keyed with HASH(tag, S, SKEY), its first 1024 bytes dropped: the spec's stream.
		const expected = Buffer.from(message);
		const reference = new Rc4(createHash('sha1').update(tag).update(secret).update(infoHash).digest());
		reference.discard(1024);
		reference.apply(expected);
		t.deepEqual(wire, expected, tag);
		to.decrypt.apply(wire);
		t.deepEqual(wire, message, tag);
	}
});
