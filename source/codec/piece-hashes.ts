const digestLength = 20;

/**
 * A torrent's piece digests (SHA-1, 20 bytes each), kept as the one buffer `info.pieces` is.
 * A buffer object per piece cost about 100 bytes of heap each: 10 MB for a 100,000-piece
 * torrent, held for the whole run.
 */
export class PieceHashes {
	readonly count: number;

	private constructor(readonly digests: Buffer) {
		this.count = digests.length / digestLength;
	}

	/**
	 * `info.pieces` as it is: concatenated digests. A view, not a copy: the torrent keeps its info
	 * dictionary (to serve it to peers), and a copy was 2 MB more for 100,000 pieces.
	 */
	static fromConcatenated(pieces: Uint8Array): PieceHashes {
		if (pieces.length % digestLength !== 0) {
			throw new RangeError(`${pieces.length} bytes of piece digests is not a multiple of ${digestLength}`);
		}

		return new PieceHashes(Buffer.from(pieces.buffer, pieces.byteOffset, pieces.length));
	}

	static of(digests: readonly Buffer[]): PieceHashes {
		return PieceHashes.fromConcatenated(Buffer.concat(digests));
	}

	/** Whether `digest` is piece `index`'s; false for an index outside the torrent. */
	matches(index: number, digest: Buffer): boolean {
		if (!Number.isInteger(index) || index < 0 || index >= this.count || digest.length !== digestLength) {
			return false;
		}

		const start = index * digestLength;
		return this.digests.compare(digest, 0, digestLength, start, start + digestLength) === 0;
	}

	/** Piece `index`'s digest, as a view into the shared buffer. */
	at(index: number): Buffer {
		if (!Number.isInteger(index) || index < 0 || index >= this.count) {
			throw new RangeError(`piece ${index} outside 0..${this.count - 1}`);
		}

		return this.digests.subarray(index * digestLength, (index + 1) * digestLength);
	}
}
