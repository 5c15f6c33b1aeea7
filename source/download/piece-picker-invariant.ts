import type {Bitfield} from '../codec/bitfield.js';
import type {PieceProgress} from './piece-progress.js';

export enum PieceState {
	Needed = 0,
	/** Owned by a peer, or waiting for one with some blocks already in. */
	InProgress = 1,
	/** Every block is in; being hashed and written. */
	Verifying = 2,
	Done = 3,
}

/** The picker's books, as `checkPickerInvariant` reads them: its state and the counters kept by hand. */
export type PickerBooks = {
	pieceCount: number;
	pieceSize: (index: number) => number;
	/** What a done piece adds to `doneBytes`: its bytes but the pad bytes. */
	userBytes: (index: number) => number;
	state: Uint8Array;
	/** From the wanted pieces: 0 for a piece not wanted. */
	priorities: Uint8Array;
	have: Bitfield;
	orphans: ReadonlyMap<number, PieceProgress>;
	inProgress: ReadonlyMap<number, PieceProgress>;
	doneCount: number;
	doneBytes: number;
	neededCount: number;
	lackingCount: number;
	remainingCount: number;
	bytesInFlight: number;
	sendingPeers: number;
};

type Counts = Pick<
	PickerBooks,
	'doneCount' | 'doneBytes' | 'neededCount' | 'lackingCount' | 'remainingCount' | 'bytesInFlight'
>;

/** Every counter the picker keeps by hand, counted afresh from the piece states. */
function recount(books: PickerBooks): Counts {
	const counts: Counts = {
		doneCount: 0,
		doneBytes: 0,
		neededCount: 0,
		lackingCount: 0,
		remainingCount: 0,
		bytesInFlight: 0,
	};
	for (let index = 0; index < books.pieceCount; index++) {
		const state = books.state[index];
		const wanted = books.priorities[index] !== 0;
		if (state === PieceState.Done) {
			counts.doneCount++;
			counts.doneBytes += books.userBytes(index);
		} else if (state === PieceState.InProgress || state === PieceState.Verifying) {
			counts.bytesInFlight += books.pieceSize(index);
		} else if (state !== PieceState.Needed) {
			throw new Error(`piece picker: piece ${index} is in no known state (${state})`);
		}

		if (wanted && state === PieceState.Needed) {
			counts.neededCount++;
		}

		if (wanted && state !== PieceState.Done) {
			counts.remainingCount++;
			if (state !== PieceState.Verifying) {
				counts.lackingCount++;
			}
		}

		if (books.have.has(index) !== (state === PieceState.Done)) {
			throw new Error(
				`piece picker: have says ${books.have.has(index)} for piece ${index}, in state ${state}`,
			);
		}
	}

	return counts;
}

/** Orphans ⊆ in progress ⊆ pieces in state InProgress, and back: every InProgress piece is in progress. */
function checkMaps(books: PickerBooks): void {
	for (const [index, progress] of books.orphans) {
		if (books.inProgress.get(index) !== progress) {
			throw new Error(`piece picker: orphan ${index} is not among the pieces in progress`);
		}
	}

	let inProgressStates = 0;
	for (let index = 0; index < books.pieceCount; index++) {
		if (books.state[index] === PieceState.InProgress) {
			inProgressStates++;
			if (!books.inProgress.has(index)) {
				throw new Error(`piece picker: piece ${index} is InProgress but not among the pieces in progress`);
			}
		}
	}

	for (const [index, progress] of books.inProgress) {
		if (books.state[index] !== PieceState.InProgress || progress.index !== index) {
			throw new Error(`piece picker: piece ${index} in progress has state ${books.state[index]}`);
		}
	}

	if (inProgressStates !== books.inProgress.size) {
		throw new Error(
			`piece picker: ${books.inProgress.size} pieces in progress, ${inProgressStates} InProgress`,
		);
	}
}

/**
 * libtorrent's `piece_picker::check_invariant`: every counter the picker keeps by hand is counted
 * again from the piece states and the maps, and the first that differs is named in the error.
 * O(pieces): for tests, and runs with `TORRENT_RX_CHECK_INVARIANTS=1`.
 */
export function checkPickerInvariant(books: PickerBooks): void {
	const counted = recount(books);
	for (const name of Object.keys(counted) as Array<keyof Counts>) {
		if (counted[name] !== books[name]) {
			throw new Error(`piece picker: ${name} is ${books[name]}, counted ${counted[name]}`);
		}
	}

	if (books.have.count !== counted.doneCount) {
		throw new Error(`piece picker: have counts ${books.have.count} pieces, ${counted.doneCount} are done`);
	}

	if (books.sendingPeers < 0) {
		throw new Error(`piece picker: sendingPeers is ${books.sendingPeers}`);
	}

	checkMaps(books);
}
