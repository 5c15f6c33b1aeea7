import {createDiffieHellman, createHash, type DiffieHellman, randomBytes} from 'node:crypto';
import {Rc4} from './rc4.js';

/**
 * The cryptography of Message Stream Encryption (MSE/PE, the Azureus/Vuze spec, as libtorrent's
 * pe_crypto.cpp reads it): a 768-bit Diffie-Hellman exchange with generator 2, SHA-1 of tagged
 * strings to find the torrent and to key RC4 each way, and the constants of the handshake.
 * No I/O and no state but the key pair's: the handshake itself is a state machine elsewhere.
 */

/** P, the spec's 768-bit prime (RFC 2409's first Oakley group). */
export const msePrime = Buffer.from(
	'FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A63A36210000000000090563',
	'hex',
);
/** Public keys and the shared secret S are sent and hashed as 96 bytes, big-endian, zero-padded. */
export const mseKeyLength = 96;
/** VC: eight zero bytes, encrypted, by which each side finds where the other's padding ends. */
export const verificationConstant = Buffer.alloc(8);
/** Padding (PadA to PadD) is 0 to 512 bytes. */
export const maxPadLength = 512;
/** crypto_provide / crypto_select bits. */
export const cryptoPlaintext = 0x01;
export const cryptoRc4 = 0x02;
/** The spec's advice for a private key: 160 bits (beyond 180 adds nothing but work). */
const privateKeyBytes = 20;

/** P − 1: a public key of 0, 1 or P − 1 (or beyond) would make the secret guessable. */
const primeMinusOne = (() => {
	const value = Buffer.from(msePrime);
	value[value.length - 1] = (value[value.length - 1] ?? 0) - 1;
	return value;
})();

const two = Buffer.alloc(mseKeyLength);
two[mseKeyLength - 1] = 2;

/**
 * One DiffieHellman object for every key pair: making one checks the prime (22 ms here); set to
 * a pair's private key before each use (0.1 ms a handshake), which nothing can interleave.
 */
let group: DiffieHellman | undefined;
const dh = (): DiffieHellman => {
	group ??= createDiffieHellman(msePrime, 2);
	return group;
};

const padded = (key: Buffer): Buffer =>
	key.length === mseKeyLength ? key : Buffer.concat([Buffer.alloc(mseKeyLength - key.length), key]);

/** Whether `key` may be the other side's public key: 96 bytes, between 2 and P − 2. */
export function isValidPublicKey(key: Uint8Array): boolean {
	if (key.length !== mseKeyLength) {
		return false;
	}

	return Buffer.compare(key, two) >= 0 && Buffer.compare(key, primeMinusOne) < 0;
}

/** Our side of the exchange: a fresh private key, and the public key Y = 2^X mod P sent for it. */
export class MseKeyPair {
	readonly publicKey: Buffer;
	readonly #privateKey: Buffer;

	constructor(privateKey: Buffer = randomBytes(privateKeyBytes)) {
		this.#privateKey = privateKey;
		const group = dh();
		group.setPrivateKey(privateKey);
		group.generateKeys();
		this.publicKey = padded(group.getPublicKey());
	}

	/** S, from the other side's public key; a key that is not valid is a RangeError. */
	sharedSecret(theirPublicKey: Uint8Array): Buffer {
		if (!isValidPublicKey(theirPublicKey)) {
			throw new RangeError('not a valid MSE public key');
		}

		const group = dh();
		group.setPrivateKey(this.#privateKey);
		return padded(group.computeSecret(theirPublicKey));
	}
}

const sha1 = (...parts: Array<string | Uint8Array>): Buffer => {
	const hash = createHash('sha1');
	for (const part of parts) {
		hash.update(part);
	}

	return hash.digest();
};

/** HASH('req1', S): the initiator's first 20 bytes after its padding, which the receiver scans for. */
export const req1Hash = (secret: Uint8Array): Buffer => sha1('req1', secret);

/** HASH('req2', SKEY): what the receiver keeps for each torrent it serves, to know which one is asked for. */
export const req2Hash = (infoHash: Uint8Array): Buffer => sha1('req2', infoHash);

/** HASH('req2', SKEY) xor HASH('req3', S): names the torrent without saying its info hash. */
export function torrentMarker(infoHash: Uint8Array, secret: Uint8Array): Buffer {
	const marker = req2Hash(infoHash);
	const mask = sha1('req3', secret);
	for (let index = 0; index < marker.length; index++) {
		marker[index] = (marker[index] ?? 0) ^ (mask[index] ?? 0);
	}

	return marker;
}

/**
 * The receiver's side of `torrentMarker`: which of the torrents it serves (their `req2Hash`
 * keyed by hex, each with what the caller keeps for it) the initiator asks for; undefined for none.
 */
export function findTorrent<T>(
	marker: Uint8Array,
	secret: Uint8Array,
	served: ReadonlyMap<string, T>,
): T | undefined {
	const mask = sha1('req3', secret);
	const req2 = Buffer.alloc(mask.length);
	for (let index = 0; index < mask.length; index++) {
		req2[index] = (marker[index] ?? 0) ^ (mask[index] ?? 0);
	}

	return served.get(req2.toString('hex'));
}

/** The two RC4 streams of one side: keyA for what the initiator sends, keyB for what the receiver sends. */
export type MseCiphers = {encrypt: Rc4; decrypt: Rc4};

/** The ciphers for one side, from S and the torrent's info hash (SKEY), the first 1024 bytes of each discarded. */
export function mseCiphers(secret: Uint8Array, infoHash: Uint8Array, initiator: boolean): MseCiphers {
	const keyed = (tag: 'keyA' | 'keyB') => {
		const cipher = new Rc4(sha1(tag, secret, infoHash));
		cipher.discard(1024);
		return cipher;
	};
	const sending = keyed(initiator ? 'keyA' : 'keyB');
	const receiving = keyed(initiator ? 'keyB' : 'keyA');
	return {encrypt: sending, decrypt: receiving};
}
