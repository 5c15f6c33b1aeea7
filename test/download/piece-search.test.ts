import test from 'ava';
import {Bitfield} from '../../source/codec/bitfield.js';
import {PieceAvailability} from '../../source/download/piece-availability.js';
import {PieceState} from '../../source/download/piece-picker-invariant.js';
import {mostUrgentNeeded, rarestNeeded, type SearchablePieces} from '../../source/download/piece-search.js';

/** Pieces had by `peersWith[i]` peers each, at `priorities` (all 4 when absent), all needed unless `started`. */
function piecesOf(
	peersWith: number[],
	{priorities, started = []}: {priorities?: number[]; started?: number[]} = {},
): SearchablePieces {
	const states = new Uint8Array(peersWith.length).fill(PieceState.Needed);
	for (const index of started) {
		states[index] = PieceState.InProgress;
	}

	const wanted = Uint8Array.from(priorities ?? peersWith.map(() => 4));
	const availability = new PieceAvailability(
		peersWith.length,
		(index) => states[index] === PieceState.Needed && wanted[index] !== 0,
	);
	for (const index of started) {
		availability.neededChanged(index, -1);
	}

	for (const [index, count] of peersWith.entries()) {
		for (let peer = 0; peer < count; peer++) {
			availability.add(index, 1);
		}
	}

	return {states, priorities: wanted, availability};
}

function bitfieldOf(pieceCount: number, indexes: number[]): Bitfield {
	const bitfield = new Bitfield(pieceCount);
	for (const index of indexes) {
		bitfield.set(index);
	}

	return bitfield;
}

const everything = (pieceCount: number) =>
	bitfieldOf(pieceCount, [...Array.from({length: pieceCount}).keys()]);

test('rarest first: of the pieces as rare, the first met going round from the start', (t) => {
	const pieces = piecesOf([3, 1, 2, 1]);
	t.is(rarestNeeded(pieces, everything(4), 0), 1);
	t.is(rarestNeeded(pieces, everything(4), 2), 3);
	t.is(rarestNeeded(pieces, everything(4), 3), 3);
});

test('rarest first: only needed pieces the peer has; none is -1', (t) => {
	const pieces = piecesOf([3, 1, 2, 1], {started: [1]});
	t.is(rarestNeeded(pieces, everything(4), 0), 3, 'piece 1 is started');
	t.is(rarestNeeded(pieces, bitfieldOf(4, [0, 2]), 0), 2, 'the peer lacks 3');
	t.is(rarestNeeded(pieces, bitfieldOf(4, [1]), 0), -1, 'the peer has only a started piece');
});

test('by priority: the highest priority wins over rarity, the rarest of that priority; 0 is never picked', (t) => {
	const pieces = piecesOf([1, 3, 1, 2, 1], {priorities: [1, 7, 1, 7, 0]});
	t.is(mostUrgentNeeded(pieces, everything(5), 0, 7), 3);
	t.is(mostUrgentNeeded(pieces, bitfieldOf(5, [0, 2, 4]), 3, 7), 0, 'round from 3: 4 is not wanted, then 0');
	t.is(mostUrgentNeeded(pieces, bitfieldOf(5, [4]), 0, 7), -1);
});

test('by priority: a rare piece of a lower priority does not end the search', (t) => {
	// Piece 0 is as rare as the rarest needed piece, but the later piece 2 is more urgent.
	const pieces = piecesOf([1, 2, 2], {priorities: [1, 1, 7]});
	t.is(mostUrgentNeeded(pieces, everything(3), 0, 7), 2);
});
