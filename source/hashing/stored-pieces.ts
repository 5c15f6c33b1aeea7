import {defer, from, map, mergeMap, type Observable} from 'rxjs';
import type {PieceStore} from '../storage/disk.js';
import {SharedBufferPool} from './buffer-pool.js';

export type StoredPieceReading = {
	/** Pieces read and worked on at once: enough to keep every hashing worker and the disk busy. */
	concurrency: number;
	/** The largest piece, for the read buffers. */
	pieceLength: number;
};

/**
 * Reads pieces from disk and hands each to `each` (hash it, verify it), `concurrency` at a
 * time, each read into one of as many shared buffers so hashing workers see it without a copy;
 * the buffer is reused once `each` has answered. Emits `[index, answer]` in completion order:
 * the check at start-up (verification) and torrent creation (digests) both build on it.
 */
export function overStoredPieces<T>(
	reader: Pick<PieceStore, 'readPiece'>,
	indexes: readonly number[],
	each: (index: number, data: Buffer) => Observable<T>,
	{concurrency, pieceLength}: StoredPieceReading,
): Observable<[number, T]> {
	return defer(() => {
		const buffers = new SharedBufferPool(concurrency, pieceLength);
		return from(indexes).pipe(
			mergeMap(
				(index) =>
					buffers
						.with((buffer) => reader.readPiece(index, buffer).pipe(mergeMap((data) => each(index, data))))
						.pipe(map((answer): [number, T] => [index, answer])),
				concurrency,
			),
		);
	});
}
