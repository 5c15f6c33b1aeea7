import type {Bitfield} from '../codec/bitfield.js';
import type {PieceAvailability} from './piece-availability.js';
import {PieceState} from './piece-picker-invariant.js';

/** What a search reads of the picker's books; it changes none of them. */
export type SearchablePieces = {
	/** Each piece's `PieceState`: only `Needed` pieces (nobody has started them) are candidates. */
	readonly states: Uint8Array;
	/** Each piece's priority: 0 is not wanted, higher is sooner. */
	readonly priorities: Uint8Array;
	readonly availability: PieceAvailability;
};

/**
 * The rarest needed piece the peer has, every piece being wanted at one priority; -1 when none.
 * The scan goes round from `start`, so among pieces as rare the first met wins; it stops at a
 * piece as rare as the rarest needed one, which nothing can beat (BEP 3 leaves the order to the
 * client; rarest first is libtorrent's and Transmission's).
 */
export function rarestNeeded(pieces: SearchablePieces, peerPieces: Bitfield, start: number): number {
	const {states, availability} = pieces;
	const pieceCount = states.length;
	const rarest = availability.rarest();
	let best = -1;
	let bestAvailability = Number.POSITIVE_INFINITY;
	for (let step = 0; step < pieceCount; step++) {
		const index = (start + step) % pieceCount;
		if (states[index] !== PieceState.Needed || !peerPieces.has(index)) {
			continue;
		}

		const peersWithIt = availability.of(index);
		if (peersWithIt < bestAvailability) {
			best = index;
			bestAvailability = peersWithIt;
			if (peersWithIt <= rarest) {
				break;
			}
		}
	}

	return best;
}

/**
 * The needed, wanted piece the peer has of the highest priority, the rarest of those; -1 when
 * none. Only a piece of the `top` priority can end the search early: a rarer piece of a lower
 * priority never wins over it.
 */
export function mostUrgentNeeded(
	pieces: SearchablePieces,
	peerPieces: Bitfield,
	start: number,
	top: number,
): number {
	const {states, priorities, availability} = pieces;
	const pieceCount = states.length;
	const rarest = availability.rarest();
	let best = -1;
	let bestPriority = 1;
	let bestAvailability = Number.POSITIVE_INFINITY;
	for (let step = 0; step < pieceCount; step++) {
		const index = (start + step) % pieceCount;
		const priority = priorities[index] ?? 0;
		if (priority < bestPriority || states[index] !== PieceState.Needed || !peerPieces.has(index)) {
			continue;
		}

		const peersWithIt = availability.of(index);
		if (priority > bestPriority || peersWithIt < bestAvailability) {
			best = index;
			bestPriority = priority;
			bestAvailability = peersWithIt;
			if (priority === top && peersWithIt <= rarest) {
				break;
			}
		}
	}

	return best;
}
