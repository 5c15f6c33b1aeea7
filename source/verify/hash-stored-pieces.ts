import {defer, from, map, mergeMap, type Observable} from 'rxjs';
import {SharedBufferPool} from '../hashing/buffer-pool.js';
import type {HashPort} from '../hashing/sha1.js';
import type {PieceStore} from '../storage/disk.js';

export type StoredPieceHashing = {
	/** Pieces read and hashed at once: enough to keep every hashing worker and the disk busy. */
	concurrency: number;
	/** The largest piece, for the read buffers. */
	pieceLength: number;
};

/**
 * Reads pieces from disk and hashes them, `concurrency` at a time, each read into one of as
 * many shared buffers so the hashing workers see it without a copy. Emits `[index, digest]`
 * in completion order: the resume check and torrent creation both build on it.
 */
export function hashStoredPieces(
	reader: Pick<PieceStore, 'readPiece'>,
	indexes: readonly number[],
	hashPiece: HashPort,
	{concurrency, pieceLength}: StoredPieceHashing,
): Observable<[number, Buffer]> {
	return defer(() => {
		const buffers = new SharedBufferPool(concurrency, pieceLength);
		return from(indexes).pipe(
			mergeMap(
				(index) =>
					buffers
						.with((buffer) => reader.readPiece(index, buffer).pipe(mergeMap((data) => hashPiece(data))))
						.pipe(map((digest): [number, Buffer] => [index, digest])),
				concurrency,
			),
		);
	});
}
