import {Bitfield} from '../codec/bitfield.js';
import type {PeerMessage} from '../codec/messages.js';
import {PeerProtocolError} from '../errors.js';
import type {PiecePicker} from './piece-picker.js';

/** The messages that say what a peer has. */
export type AvailabilityMessage = Extract<
	PeerMessage,
	{type: 'bitfield' | 'have-all' | 'have-none' | 'have'}
>;

/**
 * What one peer has, as its bitfield, have-all, have-none and haves say, each piece counted once
 * into the picker's availability. BEP 3 and BEP 6: what the peer has is said once, then by haves.
 * Each of these messages walks every piece (at 100,000 pieces a 5-byte have-all cost 1.5 ms), so
 * one is taken as is; later, only a bitfield or have-all that adds pieces, which aria2 sends
 * instead of 20 haves or more (and a have-all when it finishes). A peer never takes a piece back.
 */
export class PeerPieces {
	readonly bitfield: Bitfield;
	/** A bitfield, have-all, have-none or have has come: availability is known, and only grows. */
	#known = false;

	constructor(readonly picker: PiecePicker) {
		this.bitfield = new Bitfield(picker.pieceCount);
	}

	/**
	 * Takes one availability message; true when our interest may have changed with it (the
	 * first word on availability, or pieces we want while we are not `interested`).
	 */
	receive(message: AvailabilityMessage, interested: boolean): boolean {
		switch (message.type) {
			case 'bitfield':
				if (this.#known) {
					return this.#addPieces(message.bitfield) && !interested;
				}

				this.#known = true;
				this.bitfield.replace(Bitfield.fromWire(message.bitfield, this.picker.pieceCount));
				this.picker.addAvailability(this.bitfield, 1);
				return true;
			case 'have-all':
				if (this.#known && this.bitfield.complete) {
					throw new PeerProtocolError('have-all that adds no piece: availability said again');
				}

				this.#known = true;
				for (let index = 0; index < this.picker.pieceCount; index++) {
					if (this.bitfield.set(index)) {
						this.picker.addHave(index);
					}
				}

				return true;
			case 'have-none':
				if (this.#known) {
					throw new PeerProtocolError('have-none after its availability was said');
				}

				this.#known = true;
				return false;
			case 'have':
				return this.#have(message.index, interested);
		}
	}

	/** The peer leaves: its pieces leave the availability count. */
	withdraw(): void {
		this.picker.addAvailability(this.bitfield, -1);
	}

	#have(index: number, interested: boolean): boolean {
		if (index >= this.picker.pieceCount) {
			throw new PeerProtocolError(`have for piece ${index} of ${this.picker.pieceCount}`);
		}

		// A have before any bitfield says the peer had nothing (BEP 3 lets it leave the bitfield out).
		this.#known = true;
		if (!this.bitfield.set(index)) {
			return false;
		}

		this.picker.addHave(index);
		return !interested && this.picker.wants(index);
	}

	/**
	 * A later bitfield: the pieces it adds count as haves. A byte at a time, without a Bitfield of
	 * its own, so the cost is that of the bytes received; one that adds nothing drops the peer.
	 * True when it adds a piece we want.
	 */
	#addPieces(bytes: Buffer): boolean {
		const known = this.bitfield.bytes;
		if (bytes.length !== known.length) {
			throw new PeerProtocolError(`bitfield is ${bytes.length} bytes, expected ${known.length}`);
		}

		let added = 0;
		let wanted = false;
		for (let byteIndex = 0; byteIndex < bytes.length; byteIndex++) {
			const had = known[byteIndex] ?? 0;
			const has = bytes[byteIndex] ?? 0;
			if ((had & ~has) !== 0) {
				throw new PeerProtocolError('a bitfield that takes back pieces it had');
			}

			for (let fresh = has & ~had; fresh !== 0; fresh &= fresh - 1) {
				// The lowest set bit is the highest piece of this byte (the high bit is the first).
				const index = byteIndex * 8 + 7 - (31 - Math.clz32(fresh & -fresh));
				if (index >= this.picker.pieceCount) {
					throw new PeerProtocolError('bitfield has spare bits set');
				}

				this.bitfield.set(index);
				this.picker.addHave(index);
				wanted ||= this.picker.wants(index);
				added++;
			}
		}

		if (added === 0) {
			throw new PeerProtocolError('a bitfield that adds no piece: availability said again');
		}

		return wanted;
	}
}
