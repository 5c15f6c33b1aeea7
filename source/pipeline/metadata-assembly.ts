import {createHash} from 'node:crypto';
import {maxMetadataSize, metadataPieceLength} from '../codec/extension-protocol.js';

/**
 * The info dictionary being put together from BEP 9 pieces, wherever they come from. The size
 * is taken from the first peer that names one; a peer naming another size is not asked. When
 * every piece is in, the whole must hash to the info hash, or it is thrown away and fetched again.
 */
export class MetadataAssembly {
	#size: number | undefined;
	#pieces: Array<Buffer | undefined> = [];
	/** Which peer was asked for each piece that has not arrived. */
	#asked = new Map<number, string>();
	#failures = 0;

	constructor(readonly infoHash: Buffer) {}

	get size(): number | undefined {
		return this.#size;
	}

	get pieceCount(): number {
		return this.#pieces.length;
	}

	/** Times the pieces were all in but hashed wrong. */
	get failures(): number {
		return this.#failures;
	}

	/** A peer's `metadata_size`: true when it agrees with ours (or sets it), so the peer may be asked. */
	offerSize(size: number): boolean {
		if (!(size > 0 && size <= maxMetadataSize)) {
			return false;
		}

		if (this.#size === undefined) {
			this.#size = size;
			this.#pieces = Array.from({length: Math.ceil(size / metadataPieceLength)}, () => undefined);
		}

		return this.#size === size;
	}

	/** The next piece nobody has been asked for, now asked of `peer`; undefined when none is left. */
	claim(peer: string): number | undefined {
		for (let piece = 0; piece < this.#pieces.length; piece++) {
			if (this.#pieces[piece] === undefined && !this.#asked.has(piece)) {
				this.#asked.set(piece, peer);
				return piece;
			}
		}

		return undefined;
	}

	/** A peer left or rejected: what it was asked for can be asked of someone else. */
	release(peer: string, piece?: number): void {
		for (const [asked, by] of this.#asked) {
			if (by === peer && (piece === undefined || piece === asked)) {
				this.#asked.delete(asked);
			}
		}
	}

	/**
	 * Takes a piece; returns the verified info dictionary once the last one makes it whole.
	 * A piece of the wrong length, or one nobody asked this peer for, is refused (false).
	 */
	receive(peer: string, piece: number, data: Buffer): Buffer | false | undefined {
		const size = this.#size;
		if (size === undefined || this.#asked.get(piece) !== peer) {
			return false;
		}

		const expected = Math.min(metadataPieceLength, size - piece * metadataPieceLength);
		if (data.length !== expected) {
			return false;
		}

		this.#asked.delete(piece);
		this.#pieces[piece] = Buffer.from(data);
		if (this.#pieces.some((stored) => stored === undefined)) {
			return undefined;
		}

		const whole = Buffer.concat(this.#pieces as Buffer[]);
		if (createHash('sha1').update(whole).digest().equals(this.infoHash)) {
			return whole;
		}

		this.#failures++;
		this.#pieces = this.#pieces.map(() => undefined);
		return undefined;
	}
}
