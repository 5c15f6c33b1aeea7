import {
	cryptoRc4,
	type MseCiphers,
	MseKeyPair,
	maxPadLength,
	mseCiphers,
	req1Hash,
	torrentMarker,
	verificationConstant,
} from '../codec/mse-crypto.js';
import {PeerProtocolError} from '../errors.js';
import {
	HandshakeSide,
	type MseOutcome,
	maxInitialPayload,
	onlyBit,
	padding,
	type Random,
} from './mse-handshake.js';

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
		return Buffer.concat([this.#keyPair.publicKey, padding(this.#options.random)]);
	}

	protected advance(send: Buffer[]): boolean {
		const pending = this.pending;
		switch (this.#phase) {
			case 'key': {
				const secret = this.secretFromTheirKey(this.#keyPair);
				if (!secret) {
					return false;
				}

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
