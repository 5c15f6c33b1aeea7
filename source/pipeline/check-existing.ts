import {concat, defer, from, map, mergeMap, type Observable, scan, throttleTime} from 'rxjs';
import {Bitfield} from '../codec/bitfield.js';
import type {RunEvent} from '../events/events.js';
import {SharedBufferPool} from '../hashing/buffer-pool.js';
import type {HashPort} from '../hashing/sha1.js';
import type {PieceStore} from '../storage/disk.js';

export type CheckResult = {type: 'check-result'; have: Bitfield};

export type CheckOptions = {
	pieceCount: number;
	/** The largest piece, for the read buffers. */
	pieceLength: number;
	pieceHashes: readonly Buffer[];
	/** Which pieces to read and hash; the others are taken as missing. */
	candidates: (index: number) => boolean;
	/** Pieces read and hashed at once: enough to keep every hashing worker and the disk busy. */
	concurrency: number;
	/** At most one progress event per this many milliseconds. */
	progressMs: number;
};

/**
 * Checks the pieces already on disk: reads each candidate piece, hashes it and keeps the ones
 * that match. Emits throttled `checking` progress, one `checked` event, and last the result.
 */
export function checkExistingPieces(
	store: PieceStore,
	hashPiece: HashPort,
	options: CheckOptions,
): Observable<RunEvent | CheckResult> {
	return defer(() => {
		const have = new Bitfield(options.pieceCount);
		const buffers = new SharedBufferPool(options.concurrency, options.pieceLength);
		const indexes = Array.from({length: options.pieceCount}, (_, index) => index).filter(options.candidates);
		const checked$ = from(indexes).pipe(
			mergeMap(
				(index) =>
					buffers
						.with((buffer) => store.readPiece(index, buffer).pipe(mergeMap((data) => hashPiece(data))))
						.pipe(
							map((digest) => {
								if (digest.equals(options.pieceHashes[index] ?? Buffer.alloc(0))) {
									have.set(index);
								}
							}),
						),
				options.concurrency,
			),
			scan((count) => count + 1, 0),
		);
		const progress$ = checked$.pipe(
			throttleTime(options.progressMs, undefined, {leading: true, trailing: true}),
			map((checked): RunEvent => ({type: 'checking', checked, total: indexes.length})),
		);
		return concat(
			progress$,
			defer(() =>
				from<Array<RunEvent | CheckResult>>([
					{type: 'checked', pieces: have.count, total: options.pieceCount},
					{type: 'check-result', have},
				]),
			),
		);
	});
}
