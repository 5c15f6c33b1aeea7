import {randomBytes} from 'node:crypto';
import {
	cryptoPlaintext,
	cryptoRc4,
	findTorrent,
	type MseCiphers,
	MseKeyPair,
	maxPadLength,
	mseCiphers,
	mseKeyLength,
	req1Hash,
	torrentMarker,
	verificationConstant,
} from '../codec/mse-crypto.js';
import {PeerProtocolError} from '../errors.js';

/**
 * The two sides of the MSE/PE handshake (the Azureus/Vuze spec) as state machines without I/O:
 * bytes in, bytes to send and at last the outcome out, whatever the TCP segments. A violation
 * is a `PeerProtocolError`. Everything a peer sends before the outcome is bounded: 96 bytes of
 * key, 512 of padding before each sync point, 512 of PadC and `maxInitialPayload` of IA.
 *
 *   A → B  Ya, PadA
 *   B → A  Yb, PadB
 *   A → B  HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S),
 *          ENCRYPT(VC, crypto_provide, len(PadC), PadC, len(IA)), ENCRYPT(IA)
 *   B → A  ENCRYPT(VC, crypto_select, len(PadD), PadD), then the payload
 */

/** How the connection goes on once the handshake is done. */
export type MseOutcome = {
	/** The torrent: the one asked for (initiator) or found (receiver); unknown for a plaintext caller. */
	infoHash?: Buffer;
	protection: 'rc4' | 'plaintext';
	/** The ciphers to go on with, for `rc4`. */
	ciphers?: MseCiphers;
	/**
	 * What came after the handshake, decrypted: for the receiver the initiator's IA (its
	 * BitTorrent handshake) and whatever followed it; for the initiator the receiver's first bytes.
	 */
	payload: Buffer;
};

/** What one step of either side yields: bytes to send, and the outcome once the handshake is done. */
export type MseStep = {send: Buffer[]; done?: MseOutcome};

/** The most initial payload (IA) accepted: a BitTorrent handshake is 68 bytes; libtorrent sends that. */
export const maxInitialPayload = 1024;

type Random = (length: number) => Buffer;

const padding = (random: Random): Buffer => {
	const length = (random(2).readUInt16BE(0) % (maxPadLength + 1)) | 0;
	return random(length);
};

const onlyBit = (bits: number): boolean => bits !== 0 && (bits & (bits - 1)) === 0;

/** Unread bytes of a peer's stream, as one buffer of our own (decrypted in place as they are read). */
class Pending {
	#bytes: Buffer = Buffer.alloc(0);

	get length(): number {
		return this.#bytes.length;
	}

	get bytes(): Buffer {
		return this.#bytes;
	}

	add(chunk: Uint8Array): void {
		this.#bytes = Buffer.concat([this.#bytes, chunk]);
	}

	/** The first `count` bytes, taken off. */
	take(count: number): Buffer {
		const taken = this.#bytes.subarray(0, count);
		this.#bytes = this.#bytes.subarray(count);
		return taken;
	}

	/**
	 * Takes everything up to and including `pattern` (a sync point after the other side's
	 * padding): true once found; false while it may still come; a `PeerProtocolError` once more
	 * than 512 bytes of padding have come without it.
	 */
	skipPast(pattern: Buffer, name: string): boolean {
		const at = this.#bytes.subarray(0, maxPadLength + pattern.length).indexOf(pattern);
		if (at >= 0) {
			this.take(at + pattern.length);
			return true;
		}

		if (this.#bytes.length >= maxPadLength + pattern.length) {
			throw new PeerProtocolError(`no MSE ${name} within 512 bytes of padding`);
		}

		return false;
	}
}

/** What both sides share: the unread bytes, and the loop that reads them until the handshake is done. */
abstract class HandshakeSide {
	protected readonly pending = new Pending();
	protected finished = false;

	receive(chunk: Uint8Array): MseStep {
		if (this.finished) {
			throw new Error('the MSE handshake is over: what follows is the payload');
		}

		this.pending.add(chunk);
		const send: Buffer[] = [];
		while (this.advance(send)) {
			if (this.finished) {
				return {send, done: this.outcome()};
			}
		}

		return {send};
	}

	/** One step of the handshake from the bytes in; false when it needs more. */
	protected abstract advance(send: Buffer[]): boolean;

	protected abstract outcome(): MseOutcome;
}

export type MseInitiatorOptions = {
	infoHash: Buffer;
	/** crypto_provide: `cryptoRc4`, `cryptoPlaintext` or both. */
	provide: number;
	/** Sent encrypted inside the handshake: our BitTorrent handshake, saving a round trip. */
	initialPayload: Buffer;
	keyPair?: MseKeyPair;
	random?: Random;
};

/** The side that dialled (A). `start()` gives its first bytes; `receive` the rest. */
export class MseInitiator extends HandshakeSide {
	readonly #options: MseInitiatorOptions;
	readonly #keyPair: MseKeyPair;
	#phase: 'key' | 'vc' | 'select' | 'pad' = 'key';
	#ciphers: MseCiphers | undefined;
	#expectedVc: Buffer = Buffer.alloc(0);
	#select = 0;
	#padLeft = 0;

	constructor(options: MseInitiatorOptions) {
		super();
		if (options.initialPayload.length > maxInitialPayload) {
			throw new RangeError(`an initial payload of ${options.initialPayload.length} bytes`);
		}

		this.#options = options;
		this.#keyPair = options.keyPair ?? new MseKeyPair();
	}

	/** Ya and PadA. */
	start(): Buffer {
		return Buffer.concat([this.#keyPair.publicKey, padding(this.#options.random ?? randomBytesOf)]);
	}

	protected advance(send: Buffer[]): boolean {
		const pending = this.pending;
		switch (this.#phase) {
			case 'key': {
				if (pending.length < mseKeyLength) {
					return false;
				}

				const secret = secretFrom(this.#keyPair, pending.take(mseKeyLength));
				const {infoHash, provide, initialPayload} = this.#options;
				const ciphers = mseCiphers(secret, infoHash, true);
				this.#ciphers = ciphers;
				// B's VC as it will arrive: the first 8 bytes of its stream, from a second copy of it.
				this.#expectedVc = Buffer.from(verificationConstant);
				mseCiphers(secret, infoHash, true).decrypt.apply(this.#expectedVc);
				const header = Buffer.alloc(8 + 4 + 2 + 2);
				header.writeUInt32BE(provide, 8);
				header.writeUInt16BE(0, 12);
				header.writeUInt16BE(initialPayload.length, 14);
				const encrypted = Buffer.concat([header, initialPayload]);
				ciphers.encrypt.apply(encrypted);
				send.push(Buffer.concat([req1Hash(secret), torrentMarker(infoHash, secret), encrypted]));
				this.#phase = 'vc';
				return true;
			}

			case 'vc': {
				if (!pending.skipPast(this.#expectedVc, 'verification constant')) {
					return false;
				}

				this.#ciphers?.decrypt.discard(this.#expectedVc.length);
				this.#phase = 'select';
				return true;
			}

			case 'select': {
				if (pending.length < 6) {
					return false;
				}

				const fields = pending.take(6);
				this.#ciphers?.decrypt.apply(fields);
				this.#select = fields.readUInt32BE(0);
				this.#padLeft = fields.readUInt16BE(4);
				if (!onlyBit(this.#select) || (this.#select & this.#options.provide) === 0) {
					throw new PeerProtocolError(`MSE crypto_select ${this.#select} is not one we offered`);
				}

				if (this.#padLeft > maxPadLength) {
					throw new PeerProtocolError(`MSE padding of ${this.#padLeft} bytes`);
				}

				this.#phase = 'pad';
				return true;
			}

			case 'pad': {
				const skipped = Math.min(this.#padLeft, pending.length);
				this.#ciphers?.decrypt.apply(pending.take(skipped));
				this.#padLeft -= skipped;
				if (this.#padLeft > 0) {
					return false;
				}

				this.finished = true;
				return true;
			}

			default:
				return false;
		}
	}

	protected outcome(): MseOutcome {
		const payload = Buffer.from(this.pending.take(this.pending.length));
		const ciphers = this.#ciphers;
		if (!ciphers) {
			throw new Error('MSE outcome before the key exchange');
		}

		const rc4 = this.#select === cryptoRc4;
		if (rc4) {
			ciphers.decrypt.apply(payload);
		}

		return {
			infoHash: this.#options.infoHash,
			protection: rc4 ? 'rc4' : 'plaintext',
			...(rc4 ? {ciphers} : {}),
			payload,
		};
	}
}

export type MseReceiverOptions = {
	/** The torrents we serve, by `req2Hash(infoHash)` in hex. */
	served: ReadonlyMap<string, Buffer>;
	/** crypto_select from the peer's crypto_provide: one bit, or 0 to refuse. */
	choose: (provided: number) => number;
	keyPair?: MseKeyPair;
	random?: Random;
};

/** The side that accepted (B): it speaks once A's key is in. */
export class MseReceiver extends HandshakeSide {
	readonly #options: MseReceiverOptions;
	readonly #keyPair: MseKeyPair;
	#phase: 'key' | 'req1' | 'marker' | 'provide' | 'padC' | 'ia' = 'key';
	#secret: Buffer = Buffer.alloc(0);
	#req1: Buffer = Buffer.alloc(0);
	#infoHash: Buffer = Buffer.alloc(0);
	#ciphers: MseCiphers | undefined;
	#provided = 0;
	#padLength = 0;
	#initialPayloadLength = 0;
	#select = 0;
	#initialPayload: Buffer = Buffer.alloc(0);

	constructor(options: MseReceiverOptions) {
		super();
		this.#options = options;
		this.#keyPair = options.keyPair ?? new MseKeyPair();
	}

	protected advance(send: Buffer[]): boolean {
		const pending = this.pending;
		switch (this.#phase) {
			case 'key': {
				if (pending.length < mseKeyLength) {
					return false;
				}

				this.#secret = secretFrom(this.#keyPair, pending.take(mseKeyLength));
				this.#req1 = req1Hash(this.#secret);
				send.push(Buffer.concat([this.#keyPair.publicKey, padding(this.#options.random ?? randomBytesOf)]));
				this.#phase = 'req1';
				return true;
			}

			case 'req1': {
				if (!pending.skipPast(this.#req1, 'request')) {
					return false;
				}

				this.#phase = 'marker';
				return true;
			}

			case 'marker': {
				if (pending.length < 20) {
					return false;
				}

				const infoHash = findTorrent(pending.take(20), this.#secret, this.#options.served);
				if (!infoHash) {
					throw new PeerProtocolError('MSE handshake for a torrent we do not serve');
				}

				this.#infoHash = infoHash;
				this.#ciphers = mseCiphers(this.#secret, infoHash, false);
				this.#phase = 'provide';
				return true;
			}

			case 'provide':
				return this.#readProvide();

			case 'padC':
				return this.#readPadC();

			case 'ia': {
				if (pending.length < this.#initialPayloadLength) {
					return false;
				}

				this.#initialPayload = Buffer.from(pending.take(this.#initialPayloadLength));
				this.#ciphers?.decrypt.apply(this.#initialPayload);
				send.push(this.#selection());
				this.finished = true;
				return true;
			}

			default:
				return false;
		}
	}

	/** PadC and len(IA), encrypted. */
	#readPadC(): boolean {
		if (this.pending.length < this.#padLength + 2) {
			return false;
		}

		const padAndLength = this.pending.take(this.#padLength + 2);
		this.#ciphers?.decrypt.apply(padAndLength);
		this.#initialPayloadLength = padAndLength.readUInt16BE(this.#padLength);
		if (this.#initialPayloadLength > maxInitialPayload) {
			throw new PeerProtocolError(`an MSE initial payload of ${this.#initialPayloadLength} bytes`);
		}

		this.#phase = 'ia';
		return true;
	}

	/** VC, crypto_provide and len(PadC), all encrypted. */
	#readProvide(): boolean {
		if (this.pending.length < 14) {
			return false;
		}

		const fields = this.pending.take(14);
		this.#ciphers?.decrypt.apply(fields);
		if (!fields.subarray(0, 8).equals(verificationConstant)) {
			throw new PeerProtocolError('MSE verification constant does not decrypt to zeros');
		}

		this.#provided = fields.readUInt32BE(8);
		this.#padLength = fields.readUInt16BE(12);
		if (this.#padLength > maxPadLength) {
			throw new PeerProtocolError(`MSE padding of ${this.#padLength} bytes`);
		}

		this.#phase = 'padC';
		return true;
	}

	/** ENCRYPT(VC, crypto_select, len(PadD) = 0). */
	#selection(): Buffer {
		this.#select = this.#options.choose(this.#provided & (cryptoPlaintext | cryptoRc4));
		if (!onlyBit(this.#select) || (this.#select & this.#provided) === 0) {
			throw new PeerProtocolError(`no MSE method in common (offered ${this.#provided})`);
		}

		const reply = Buffer.alloc(8 + 4 + 2);
		reply.writeUInt32BE(this.#select, 8);
		this.#ciphers?.encrypt.apply(reply);
		return reply;
	}

	protected outcome(): MseOutcome {
		const ciphers = this.#ciphers;
		if (!ciphers) {
			throw new Error('MSE outcome before the key exchange');
		}

		const rest = Buffer.from(this.pending.take(this.pending.length));
		const rc4 = this.#select === cryptoRc4;
		if (rc4) {
			ciphers.decrypt.apply(rest);
		}

		return {
			infoHash: this.#infoHash,
			protection: rc4 ? 'rc4' : 'plaintext',
			...(rc4 ? {ciphers} : {}),
			payload: Buffer.concat([this.#initialPayload, rest]),
		};
	}
}

function secretFrom(keyPair: MseKeyPair, theirKey: Buffer): Buffer {
	try {
		return keyPair.sharedSecret(theirKey);
	} catch {
		throw new PeerProtocolError('MSE public key out of range');
	}
}

function randomBytesOf(length: number): Buffer {
	return randomBytes(length);
}
