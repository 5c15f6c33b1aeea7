import {
	cryptoPlaintext,
	cryptoRc4,
	findTorrent,
	type MseCiphers,
	MseKeyPair,
	maxPadLength,
	mseCiphers,
	req1Hash,
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
				const secret = this.secretFromTheirKey(this.#keyPair);
				if (!secret) {
					return false;
				}

				this.#secret = secret;
				this.#req1 = req1Hash(this.#secret);
				send.push(Buffer.concat([this.#keyPair.publicKey, padding(this.#options.random)]));
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
