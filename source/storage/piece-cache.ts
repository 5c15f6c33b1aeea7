import {defer, map, type Observable} from 'rxjs';
import type {PieceStore} from './disk.js';

/**
 * Recently read pieces, so that serving a piece's blocks to a peer reads it from disk once
 * rather than once per 16 KiB request. Least recently used pieces go first.
 */
export class PieceCache {
	readonly #pieces = new Map<number, Promise<Buffer>>();
	/** The pieces of `#pieces` that have arrived, for reading without waiting a turn. */
	readonly #loaded = new Map<number, Buffer>();
	#bytes = 0;

	constructor(
		readonly store: PieceStore,
		readonly pieceSize: (index: number) => number,
		readonly maxBytes: number,
	) {}

	/** The block right now if its piece is in memory; undefined means: use `readBlock`. */
	peekBlock(index: number, begin: number, length: number): Buffer | undefined {
		return this.#loaded.get(index)?.subarray(begin, begin + length);
	}

	/**
	 * The bytes `begin .. begin + length` of piece `index`. Reading a piece also starts reading
	 * the next one: peers mostly ask for pieces in order, and waiting for the disk at every piece
	 * boundary would leave their request pipeline empty.
	 */
	readBlock(index: number, begin: number, length: number, next?: number): Observable<Buffer> {
		return defer(() => {
			const piece = this.#piece(index);
			if (next !== undefined && !this.#pieces.has(next)) {
				this.#piece(next).catch(() => undefined);
			}

			return piece;
		}).pipe(map((piece) => piece.subarray(begin, begin + length)));
	}

	#piece(index: number): Promise<Buffer> {
		const cached = this.#pieces.get(index);
		if (cached) {
			this.#pieces.delete(index);
			this.#pieces.set(index, cached);
			return cached;
		}

		const size = this.pieceSize(index);
		while (this.#bytes + size > this.maxBytes && this.#pieces.size > 0) {
			const oldest = this.#pieces.keys().next().value as number;
			this.#pieces.delete(oldest);
			this.#loaded.delete(oldest);
			this.#bytes -= this.pieceSize(oldest);
		}

		const reading = new Promise<Buffer>((resolve, reject) => {
			this.store.readPiece(index).subscribe({next: resolve, error: reject});
		});
		reading.then(
			(piece) => {
				if (this.#pieces.get(index) === reading) {
					this.#loaded.set(index, piece);
				}
			},
			() => undefined,
		);
		reading.catch(() => {
			if (this.#pieces.get(index) === reading) {
				this.#pieces.delete(index);
				this.#bytes -= size;
			}
		});
		this.#pieces.set(index, reading);
		this.#bytes += size;
		return reading;
	}
}
