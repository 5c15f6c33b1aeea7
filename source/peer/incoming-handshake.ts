import {plaintextHandshakeStart} from '../codec/handshake.js';
import {PeerProtocolError} from '../errors.js';
import type {StreamHandshake} from './encrypted-stream.js';
import type {MseStep} from './mse-handshake.js';
import type {MseReceiver} from './mse-receiver.js';

/** What every plaintext BitTorrent handshake starts with (BEP 3): 19, then the protocol's name. */

export type IncomingPolicy = {
	/** False under `--encryption require`: a plaintext caller is refused. */
	plaintext: boolean;
	/** The MSE/PE receiver for a caller that is not plaintext; absent under `--encryption off`. */
	encrypted?: () => MseReceiver;
};

/**
 * Tells an incoming connection's protocol by its first bytes, as libtorrent does: a plaintext
 * handshake starts with `\x13BitTorrent protocol`, an MSE/PE one with a public key that (but for
 * a chance of 2^-160) does not. Plaintext is done at once, the bytes read so far its payload;
 * otherwise the MSE receiver takes them and everything after. The decision needs at most 20 bytes.
 */
export class IncomingHandshake implements StreamHandshake {
	readonly #policy: IncomingPolicy;
	#seen: Buffer = Buffer.alloc(0);
	#receiver: MseReceiver | undefined;

	constructor(policy: IncomingPolicy) {
		this.#policy = policy;
	}

	receive(chunk: Uint8Array): MseStep {
		if (this.#receiver) {
			return this.#receiver.receive(chunk);
		}

		this.#seen = Buffer.concat([this.#seen, chunk]);
		const compared = Math.min(this.#seen.length, plaintextHandshakeStart.length);
		const plaintext = this.#seen.subarray(0, compared).equals(plaintextHandshakeStart.subarray(0, compared));
		if (plaintext && compared < plaintextHandshakeStart.length) {
			return {send: []};
		}

		if (plaintext) {
			if (!this.#policy.plaintext) {
				throw new PeerProtocolError('a plaintext handshake, and encryption is required');
			}

			return {send: [], done: {protection: 'plaintext', payload: this.#seen}};
		}

		if (!this.#policy.encrypted) {
			throw new PeerProtocolError('not a BitTorrent handshake (and MSE/PE is off)');
		}

		this.#receiver = this.#policy.encrypted();
		return this.#receiver.receive(this.#seen);
	}
}
