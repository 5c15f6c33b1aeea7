import {randomBytes} from 'node:crypto';
import {type MseCiphers, type MseKeyPair, maxPadLength, mseKeyLength} from '../codec/mse-crypto.js';
import {PeerProtocolError} from '../errors.js';

/**
 * What the two sides of the MSE/PE handshake (the Azureus/Vuze spec; `MseInitiator` in
 * mse-initiator.ts, `MseReceiver` in mse-receiver.ts) share. Each is a state machine without I/O:
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

/**
 * The peer did not take up MSE/PE: it hung up on our key, answered with a plaintext handshake,
 * or said nothing, before the keys were exchanged. What a client without MSE/PE does, so the one
 * failure worth a plaintext retry (libtorrent's and Transmission's, too).
 */
export class NotTakenUp extends PeerProtocolError {}

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

/**
 * What one step of either side yields: bytes to send, and the outcome once the handshake is
 * done. `ready`: the initiator has the shared secret and waits for its initial payload
 * (`MseInitiator.request`), the only point at which it may still be chosen.
 */
export type MseStep = {send: Buffer[]; ready?: true; done?: MseOutcome};

/** The most initial payload (IA) accepted: a BitTorrent handshake is 68 bytes; libtorrent sends that. */
export const maxInitialPayload = 1024;

export type Random = (length: number) => Buffer;

/** PadA or PadB: 0 to 512 random bytes. */
export const padding = (random: Random = (length) => randomBytes(length)): Buffer => {
	const length = (random(2).readUInt16BE(0) % (maxPadLength + 1)) | 0;
	return random(length);
};

/** A crypto_select names one method. */
export const onlyBit = (bits: number): boolean => bits !== 0 && (bits & (bits - 1)) === 0;

/** Unread bytes of a peer's stream, as one buffer of our own (decrypted in place as they are read). */
export class Pending {
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
export abstract class HandshakeSide {
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

		return this.awaitingRequest ? {send, ready: true} : {send};
	}

	/** The initiator between the key exchange and its request (see `MseStep.ready`). */
	protected get awaitingRequest(): boolean {
		return false;
	}

	/** S from the other side's 96-byte key, once it is in; undefined until then. */
	protected secretFromTheirKey(keyPair: MseKeyPair): Buffer | undefined {
		if (this.pending.length < mseKeyLength) {
			return undefined;
		}

		try {
			return keyPair.sharedSecret(this.pending.take(mseKeyLength));
		} catch {
			throw new PeerProtocolError('MSE public key out of range');
		}
	}

	/** One step of the handshake from the bytes in; false when it needs more. */
	protected abstract advance(send: Buffer[]): boolean;

	protected abstract outcome(): MseOutcome;
}
