import {defer, map, type Observable, type ObservableInput} from 'rxjs';
import type {PieceStore} from './disk.js';

/**
 * The cache reads and keeps pieces in windows of at most this many bytes: a piece of 1 MiB or
 * less is one window, read whole as before; a 16 KiB request on a 16 MiB piece reads its 1 MiB
 * window (and the next one ahead), not 32 MiB.
 */
const windowBytes = 1024 * 1024;
/** Window `w` of piece `index` is keyed `index * windowsPerPiece + w`: pieces up to 64 GiB. */
const windowsPerPiece = 65_536;

type Window = {
	readonly reading: Promise<Buffer>;
	readonly size: number;
	/** The bytes, once the read has finished; until then the window cannot be evicted. */
	loaded?: Buffer;
};

/**
 * Recently read windows of pieces, so that serving a piece's blocks to a peer reads it from disk
 * once rather than once per 16 KiB request. Least recently used windows go first, and only
 * finished ones: a read in flight holds its memory, so it counts against `maxBytes` until it ends.
 */
export class PieceCache {
	readonly #windows = new Map<number, Window>();
	readonly #read: (index: number, begin: number, length: number) => Observable<Buffer>;
	/** Bytes of every window in `#windows`, finished or in flight. */
	#bytes = 0;
	/** The part of `#bytes` still being read. */
	#inFlight = 0;

	constructor(
		store: Pick<PieceStore, 'readPiece' | 'readSpan'>,
		readonly pieceSize: (index: number) => number,
		readonly maxBytes: number,
	) {
		this.#read = store.readSpan
			? store.readSpan.bind(store)
			: (index, begin, length) =>
					store.readPiece(index).pipe(map((piece) => piece.subarray(begin, begin + length)));
	}

	/**
	 * The block right now if its window is in memory; undefined means: use `readBlock`. A block
	 * found here reads the next window ahead as `readBlock` does, or a peer served from memory
	 * would wait for the disk at every other window.
	 */
	peekBlock(index: number, begin: number, length: number, next?: number): Buffer | undefined {
		const window = Math.floor(begin / windowBytes);
		const loaded = this.#windows.get(index * windowsPerPiece + window)?.loaded;
		const offset = begin - window * windowBytes;
		if (!loaded || offset + length > loaded.length) {
			return undefined;
		}

		this.#readAheadAfter(index, window, window * windowBytes + loaded.length, next);
		return loaded.subarray(offset, offset + length);
	}

	/**
	 * The bytes `begin .. begin + length` of piece `index`. Reading a window also starts reading
	 * the next one (the piece's next window, or `next`'s first): peers mostly ask in order, and
	 * waiting for the disk at every boundary would leave their request pipeline empty. When reads
	 * in flight fill the budget, or the block straddles two windows, the block is read alone.
	 */
	readBlock(index: number, begin: number, length: number, next?: number): Observable<Buffer> {
		return defer((): ObservableInput<Buffer> => {
			const window = Math.floor(begin / windowBytes);
			const start = window * windowBytes;
			const end = Math.min(start + windowBytes, this.pieceSize(index));
			if (begin + length > end) {
				return this.#read(index, begin, length);
			}

			const reading = this.#window(index, window, start, end - start);
			this.#readAheadAfter(index, window, end, next);

			return reading
				? reading.then((bytes) => bytes.subarray(begin - start, begin - start + length))
				: this.#read(index, begin, length);
		});
	}

	/** Starts reading what follows window `window` (ending at `end`) of piece `index`. */
	#readAheadAfter(index: number, window: number, end: number, next: number | undefined): void {
		if (end < this.pieceSize(index)) {
			this.#readAhead(index, window + 1);
		} else if (next !== undefined) {
			this.#readAhead(next, 0);
		}
	}

	#readAhead(index: number, window: number): void {
		if (!this.#windows.has(index * windowsPerPiece + window)) {
			const start = window * windowBytes;
			const size = Math.min(windowBytes, this.pieceSize(index) - start);
			this.#window(index, window, start, size)?.catch(() => undefined);
		}
	}

	/** The window's bytes, read now if not cached; undefined when reads in flight leave no room. */
	#window(index: number, window: number, start: number, size: number): Promise<Buffer> | undefined {
		const key = index * windowsPerPiece + window;
		const cached = this.#windows.get(key);
		if (cached) {
			// Re-insert to mark it most recently used.
			this.#windows.delete(key);
			this.#windows.set(key, cached);
			return cached.reading;
		}

		if (this.#inFlight + size > this.maxBytes) {
			return undefined;
		}

		// Enough finished windows are there to make room: evict the least recently used of them.
		for (const [oldKey, old] of this.#windows) {
			if (this.#bytes + size <= this.maxBytes) {
				break;
			}

			if (old.loaded) {
				this.#windows.delete(oldKey);
				this.#bytes -= old.size;
			}
		}

		const reading = new Promise<Buffer>((resolve, reject) => {
			this.#read(index, start, size).subscribe({
				next: resolve,
				error: reject,
				complete: () => reject(new Error(`reading piece ${index} ended without its bytes`)),
			});
		});
		const entry: Window = {reading, size};
		// Nothing removes a window in flight but its own failure, so the entry is still the one in the map.
		reading.then(
			(bytes) => {
				entry.loaded = bytes;
				this.#inFlight -= size;
			},
			() => {
				this.#windows.delete(key);
				this.#inFlight -= size;
				this.#bytes -= size;
			},
		);
		this.#windows.set(key, entry);
		this.#bytes += size;
		this.#inFlight += size;
		return reading;
	}
}
