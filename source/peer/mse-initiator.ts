import {plaintextHandshakeStart} from '../codec/handshake.js';
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
	type MseStep,
	maxInitialPayload,
	NotTakenUp,
	onlyBit,
	padding,
	type Random,
} from './mse-handshake.js';

export type MseInitiatorOptions = {
	infoHash: Buffer;
	/** crypto_provide: `cryptoRc4`, `cryptoPlaintext` or both. */
	provide: number;
	/**
	 * IA, sent encrypted inside the handshake: our BitTorrent handshake, saving a round trip.
	 * Absent, it is asked for once the keys are exchanged (a step with `ready`), through `request`.
	 */
	initialPayload?: Buffer;
	keyPair?: MseKeyPair;
	random?: Random;
};

/** The side that dialled (A). `start()` gives its first bytes; `receive` the rest. */
export class MseInitiator extends HandshakeSide {
	readonly #options: MseInitiatorOptions;
	readonly #keyPair: MseKeyPair;
	#phase: 'key' | 'keyed' | 'vc' | 'select' | 'pad' = 'key';
	#ciphers: MseCiphers | undefined;
	#secret: Buffer = Buffer.alloc(0);
	#expectedVc: Buffer = Buffer.alloc(0);
	#select = 0;
	#padLeft = 0;

	constructor(options: MseInitiatorOptions) {
		super();
		if ((options.initialPayload?.length ?? 0) > maxInitialPayload) {
			throw new RangeError(`an initial payload of ${options.initialPayload?.length} bytes`);
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
				if (pending.bytes.subarray(0, plaintextHandshakeStart.length).equals(plaintextHandshakeStart)) {
					throw new NotTakenUp('the peer answered MSE/PE with a plaintext handshake');
				}

				const secret = this.secretFromTheirKey(this.#keyPair);
				if (!secret) {
					return false;
				}

				const {infoHash, initialPayload} = this.#options;
				this.#ciphers = mseCiphers(secret, infoHash, true);
				this.#secret = secret;
				// B's VC as it will arrive: the first 8 bytes of its stream, from a second copy of it.
				this.#expectedVc = Buffer.from(verificationConstant);
				mseCiphers(secret, infoHash, true).decrypt.apply(this.#expectedVc);
				if (initialPayload) {
					send.push(this.#requestWith(initialPayload));
					return true;
				}

				this.#phase = 'keyed';
				return false;
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

	/**
	 * Our request, with `initialPayload` (at most 1024 bytes) as IA, after a step said `ready`;
	 * what the peer sent meanwhile is read on, as `receive` would.
	 */
	request(initialPayload: Buffer): MseStep {
		if (this.#phase !== 'keyed') {
			throw new Error('the MSE request goes once, after the key exchange');
		}

		const sent = this.#requestWith(initialPayload);
		const step = this.receive(Buffer.alloc(0));
		return {...step, send: [sent, ...step.send]};
	}

	protected override get awaitingRequest(): boolean {
		return this.#phase === 'keyed';
	}

	/** HASH('req1', S), HASH('req2', SKEY) xor HASH('req3', S), ENCRYPT(VC, crypto_provide, len(PadC) = 0, len(IA), IA). */
	#requestWith(initialPayload: Buffer): Buffer {
		if (initialPayload.length > maxInitialPayload) {
			throw new RangeError(`an initial payload of ${initialPayload.length} bytes`);
		}

		const {infoHash, provide} = this.#options;
		const header = Buffer.alloc(8 + 4 + 2 + 2);
		header.writeUInt32BE(provide, 8);
		header.writeUInt16BE(0, 12);
		header.writeUInt16BE(initialPayload.length, 14);
		const encrypted = Buffer.concat([header, initialPayload]);
		this.#ciphers?.encrypt.apply(encrypted);
		this.#phase = 'vc';
		return Buffer.concat([req1Hash(this.#secret), torrentMarker(infoHash, this.#secret), encrypted]);
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
