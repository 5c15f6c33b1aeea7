/**
 * One run of a web seed (BEP 19): consecutive pieces claimed from the picker, fetched a range per
 * file, cut into blocks and verified as they complete, and given back if the run fails. The
 * workers that take runs one after another are in web-seed.ts.
 */
import {catchError, concat, defer, EMPTY, merge, mergeMap, type Observable} from 'rxjs';
import {Bitfield} from '../codec/bitfield.js';
import type {PiecePicker} from '../download/piece-picker.js';
import type {PieceProgress} from '../download/piece-progress.js';
import {describeError} from '../errors.js';
import type {RunEvent} from '../events/events.js';
import type {StorageLayout} from '../storage/layout.js';
import {type Assembled, RunAssembler} from './run-assembler.js';
import type {FileRange} from './web-seed-ranges.js';

/**
 * A file the seed does not have (a 404 for it): libtorrent marks such a file missing on that seed
 * and goes on asking it for the others, as a mirror half synced still is one.
 */
export class FileMissing extends Error {
	constructor(
		readonly fileIndex: number,
		cause: unknown,
	) {
		super(describeError(cause), {cause});
	}
}

/** One web seed as a run sees it (BEP 19): its name in the events, and how to fetch a range of a file from it. */
export type WebSeedPort = {
	/** The seed's URL, as the torrent gives it: the `peer` of its pieces' events. */
	seed: string;
	/** The range's bytes in order, then complete; an error says why (a `retryable` one may work later). */
	fetch(range: FileRange): Observable<Buffer>;
};

/** What a web seed needs of the run: the pieces' layout, the picker, and verification as a peer's pieces get it. */
export type WebSeedContext = {
	layout: StorageLayout;
	picker: PiecePicker;
	/** Verifies and stores a piece the seed completed (strikes and bans by `seed`, as for a peer). */
	verify(piece: PieceProgress): Observable<RunEvent>;
};

/** Every piece: a web seed has the whole torrent. */
export function everything(pieceCount: number): Bitfield {
	const all = new Bitfield(pieceCount);
	for (let index = 0; index < pieceCount; index++) {
		all.set(index);
	}

	return all;
}

/**
 * A run of consecutive pieces for the seed: the picker's pick (an orphan first, else rarest
 * first), then the pieces after it while they are wanted, not started, within the memory budget
 * and within `runBytes`, so that one range request fetches them all.
 */
export function claimRun(
	picker: PiecePicker,
	all: Bitfield,
	ownedBytes: number,
	runBytes: number,
): PieceProgress[] {
	const first = picker.pick(all, ownedBytes);
	if (!first) {
		return [];
	}

	const run = [first];
	let bytes = first.length;
	while (bytes < runBytes) {
		const next = picker.claimNext((run.at(-1)?.index ?? 0) + 1, ownedBytes + bytes);
		if (!next) {
			break;
		}

		run.push(next);
		bytes += next.length;
	}

	// Every block is asked of the seed: an endgame peer asking for one too sees it asked.
	for (const piece of run) {
		while (piece.claimBlock() >= 0) {
			// Claimed.
		}
	}

	return run;
}

/** Gives the picker back what a run did not finish: its blocks unasked, its received blocks kept for the next owner. */
export function releaseRun(picker: PiecePicker, run: readonly PieceProgress[]): void {
	for (const piece of run) {
		if (!piece.complete) {
			for (let block = 0; block < piece.blockCount; block++) {
				piece.unclaimBlock(block);
			}

			picker.release(piece);
		}
	}
}

/**
 * One run's requests, one per file it crosses, one after the other on the seed's connection; each
 * chunk is cut into blocks, and each piece completed is verified as it completes.
 */
export function fetchRanges(
	port: WebSeedPort,
	context: WebSeedContext,
	run: readonly PieceProgress[],
	ranges: readonly FileRange[],
): Observable<RunEvent> {
	const assembler = new RunAssembler(context.layout.pieceLength, run, port.seed);
	const verifyAssembled = (assembled: Assembled): Observable<RunEvent> => {
		for (const [piece, block] of assembled.stored) {
			context.picker.blockStored(piece, block);
		}

		if (assembled.completed.length === 0) {
			return EMPTY;
		}

		for (const piece of assembled.completed) {
			// As a peer's stage does: complete, the piece is no longer anyone's to fetch.
			context.picker.markVerifying(piece.index);
		}

		return merge(...assembled.completed.map((piece) => context.verify(piece)));
	};

	const requests = ranges.map((fileRange) =>
		defer(() => {
			const opened: Assembled = {stored: [], completed: []};
			assembler.startRange(fileRange.payloadOffset, opened);
			return concat(
				verifyAssembled(opened),
				port.fetch(fileRange).pipe(
					catchError((error: unknown) => {
						throw (error as {kind?: unknown} | undefined)?.kind === 'not-found'
							? new FileMissing(fileRange.fileIndex, error)
							: error;
					}),
					mergeMap((chunk) => {
						const assembled: Assembled = {stored: [], completed: []};
						assembler.write(chunk, assembled);
						return verifyAssembled(assembled);
					}),
				),
			);
		}),
	);
	const finished = defer(() => {
		const assembled: Assembled = {stored: [], completed: []};
		assembler.finish(assembled);
		return verifyAssembled(assembled);
	});
	return concat(...requests, finished);
}
