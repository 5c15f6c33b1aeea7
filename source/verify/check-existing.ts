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

/** Which pieces the check found, for the views' file list: only when it found any (a fresh download's line stays short). */
function haveField(have: Bitfield): {have?: string} {
	return have.count > 0 ? {have: have.bytes.toString('base64')} : {};
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
	/** Pieces known verified without a read (the resume file's word): in the result, not read again. */
	known?: Bitfield;
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
		const known = options.known;
		if (known) {
			for (let index = 0; index < known.length; index++) {
				if (known.has(index)) {
					have.set(index);
				}
			}
		}

		const indexes = Array.from({length: options.pieceCount}, (_, index) => index).filter(
			(index) => !have.has(index) && options.candidates(index),
		);
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
						...(known ? {fromResumeFile: true} : {}),
						...haveField(have),
					},
					{type: 'check-result', have},
				],
			),
		);
	});
}

/** The pieces a resume file vouches for that can still be read back, split: those to take as they are, those to hash first. */
function trustedByResume(have: Bitfield, store: PieceStore, layout: StorageLayout) {
	const taken = new Bitfield(layout.pieceCount);
	const toRecheck = new Set<number>();
	for (let index = 0; index < layout.pieceCount; index++) {
		if (have.has(index) && (store.readable?.(index) ?? true)) {
			// Bytes in a file made by this open were not there when the resume file was saved.
			const fresh = layout.spans(index).some((span) => store.createdNow?.[span.fileIndex]);
			if (fresh) {
				toRecheck.add(index);
			} else {
				taken.set(index);
			}
		}
	}

	return {taken, toRecheck};
}

/**
 * Which pieces are verified on disk before a run starts: what the resume file says when it
 * can be trusted (pieces with bytes in files made since are hashed first); otherwise a check of
 * the pieces that touch a file which was already there; nothing at all for a fresh download.
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
	const check = (candidates: (index: number) => boolean, known?: Bitfield) =>
		checkExistingPieces(store, verifyPiece, {
			pieceCount: layout.pieceCount,
			pieceLength: layout.pieceLength,
			pieceSize: (index) => layout.pieceSize(index),
			userBytes: (index) => layout.userBytes(index),
			candidates,
			concurrency: 8,
			progressMs: 250,
			...(known ? {known} : {}),
		});
	// A piece with no byte in a file that was there before cannot hold verified data.
	const fullCheck$: Observable<RunEvent | CheckResult> =
		store.preexisting.some(Boolean) || anyPadOnly
			? check(
					(index) =>
						(store.readable?.(index) ?? true) &&
						(padOnly(index) || layout.spans(index).some((span) => store.preexisting[span.fileIndex])),
				)
			: of({type: 'check-result', have: new Bitfield(layout.pieceCount)});
	const fromResume = (have: Bitfield): Observable<RunEvent | CheckResult> => {
		const {taken, toRecheck} = trustedByResume(have, store, layout);
		return toRecheck.size > 0
			? check((index) => toRecheck.has(index), taken)
			: from<Array<RunEvent | CheckResult>>([
					{
						type: 'checked',
						pieces: taken.count,
						total: layout.pieceCount,
						bytes: bytesIn(taken, (index) => layout.userBytes(index)),
						fromResumeFile: true,
						...haveField(taken),
					},
					{type: 'check-result', have: taken},
				]);
	};

	return (resume ? resume.load(store.createdNow) : of(undefined)).pipe(
		switchMap((have) => (have ? fromResume(have) : fullCheck$)),
	);
}
