import {defer, type Observable, tap} from 'rxjs';
import {PieceHashes} from '../codec/piece-hashes.js';
import {throttledProgress} from '../rx/throttled-progress.js';
import type {PieceStore} from '../storage/disk.js';
import type {HashPort} from './sha1.js';
import {overStoredPieces} from './stored-pieces.js';

export type HashProgress =
	| {type: 'hashing'; hashed: number; total: number}
	| {type: 'hashed'; pieceHashes: PieceHashes};

/**
 * Hashes every piece of a payload, `concurrency` at a time (enough to keep the hashing workers
 * and the disk busy), for a new torrent. Emits throttled progress, then the hashes in order.
 */
export function hashPayload(
	reader: Pick<PieceStore, 'readPiece'>,
	pieceCount: number,
	hashPiece: HashPort,
	{concurrency, progressMs, pieceLength}: {concurrency: number; progressMs: number; pieceLength: number},
): Observable<HashProgress> {
	return defer(() => {
		const digests: Buffer[] = Array.from({length: pieceCount});
		const indexes = Array.from({length: pieceCount}, (_, index) => index);
		return overStoredPieces(reader, indexes, (_, data) => hashPiece(data), {concurrency, pieceLength}).pipe(
			tap(([index, digest]) => {
				digests[index] = digest;
			}),
			throttledProgress(
				progressMs,
				(hashed): HashProgress => ({type: 'hashing', hashed, total: pieceCount}),
				(): HashProgress[] => [{type: 'hashed', pieceHashes: PieceHashes.of(digests)}],
			),
		);
	});
}
