import {defer, from, type Observable, of, switchMap, tap} from 'rxjs';
import {Bitfield} from '../codec/bitfield.js';
import type {RunEvent} from '../events/events.js';
import {overStoredPieces, type StoredPieceReading} from '../hashing/stored-pieces.js';
import {throttledProgress} from '../rx/throttled-progress.js';
import type {PieceStore} from '../storage/disk.js';
import type {StorageLayout} from '../storage/layout.js';
import type {ResumeStore} from '../storage/resume-file.js';
import type {PieceVerifier} from './piece-verifier.js';

export type CheckResult = {type: 'check-result'; have: Bitfield};

/** The user's bytes in the pieces `have` holds, exactly: the last piece may be short, and pad bytes do not count. */
function bytesIn(have: Bitfield, pieceSize: (index: number) => number): number {
	let bytes = 0;
	for (let index = 0; index < have.length; index++) {
		if (have.has(index)) {
			bytes += pieceSize(index);
		}
	}

	return bytes;
}

export type CheckOptions = StoredPieceReading & {
	pieceCount: number;
	/** Piece lengths: all `pieceLength` but a shorter last one. */
	pieceSize: (index: number) => number;
	/** Which pieces to read and verify; the others are taken as missing. */
	candidates: (index: number) => boolean;
	/** What a piece found counts in `checked.bytes`: its size but its pad bytes; its size when absent. */
	userBytes?: (index: number) => number;
	/** At most one progress event per this many milliseconds. */
	progressMs: number;
};

/**
 * Checks the pieces already on disk: reads each candidate piece, verifies it and keeps the
 * ones that pass. Emits throttled `checking` progress, one `checked` event, and last the result.
 */
export function checkExistingPieces(
	store: PieceStore,
	verifyPiece: PieceVerifier,
	options: CheckOptions,
): Observable<RunEvent | CheckResult> {
	return defer(() => {
		const have = new Bitfield(options.pieceCount);
		const indexes = Array.from({length: options.pieceCount}, (_, index) => index).filter(options.candidates);
		return overStoredPieces(store, indexes, verifyPiece, options).pipe(
			tap(([index, passed]) => {
				if (passed) {
					have.set(index);
				}
			}),
			throttledProgress(
				options.progressMs,
				(checked): RunEvent => ({type: 'checking', checked, total: indexes.length}),
				(): Array<RunEvent | CheckResult> => [
					{
						type: 'checked',
						pieces: have.count,
						total: options.pieceCount,
						bytes: bytesIn(have, options.userBytes ?? options.pieceSize),
					},
					{type: 'check-result', have},
				],
			),
		);
	});
}

/**
 * Which pieces are verified on disk before a run starts: what the resume file says when it
 * can be trusted; otherwise a check of the pieces that touch a file which was already there;
 * nothing at all for a fresh download.
 */
export function piecesOnDisk(
	store: PieceStore,
	resume: ResumeStore | undefined,
	verifyPiece: PieceVerifier,
	layout: StorageLayout,
): Observable<RunEvent | CheckResult> {
	// A piece of pad bytes alone (BEP 47) is complete without a request: the check finds its zeros.
	const padOnly = (index: number) =>
		layout.hasPadFiles && layout.spans(index).every((span) => layout.files[span.fileIndex]?.pad);
	const anyPadOnly =
		layout.hasPadFiles && Array.from({length: layout.pieceCount}, (_, index) => index).some(padOnly);
	const fullCheck$: Observable<RunEvent | CheckResult> =
		store.preexisting.some(Boolean) || anyPadOnly
			? checkExistingPieces(store, verifyPiece, {
					pieceCount: layout.pieceCount,
					pieceLength: layout.pieceLength,
					pieceSize: (index) => layout.pieceSize(index),
					// A piece with no byte in a file that was there before cannot hold verified data.
					candidates: (index) =>
						padOnly(index) || layout.spans(index).some((span) => store.preexisting[span.fileIndex]),
					concurrency: 8,
					progressMs: 250,
				})
			: of({type: 'check-result', have: new Bitfield(layout.pieceCount)});
	return (resume ? resume.load() : of(undefined)).pipe(
		switchMap(
			(have): Observable<RunEvent | CheckResult> =>
				have
					? from<Array<RunEvent | CheckResult>>([
							{
								type: 'checked',
								pieces: have.count,
								total: layout.pieceCount,
								bytes: bytesIn(have, (index) => layout.userBytes(index)),
								fromResumeFile: true,
							},
							{type: 'check-result', have},
						])
					: fullCheck$,
		),
	);
}
