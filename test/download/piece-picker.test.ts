import test from 'ava';
import {Bitfield} from '../../source/codec/bitfield.js';
import {inFlightBudget} from '../../source/download/piece-picker.js';
import {PieceSignals} from '../../source/download/piece-signals.js';
import {checkedPicker} from '../helpers/checked-picker.js';

const pieces = (count: number, indexes: number[]) => {
	const bitfield = new Bitfield(count);
	for (const index of indexes) {
		bitfield.set(index);
	}

	return bitfield;
};

const picker = (count: number, maxBytesInFlight = 1 << 30) =>
	checkedPicker(() => 100, count, {maxBytesInFlight, random: () => 0});

test('picks the rarest piece the peer has', (t) => {
	const pool = picker(4);
	pool.addAvailability(pieces(4, [0, 1, 2, 3]), 1);
	pool.addAvailability(pieces(4, [0, 1, 3]), 1);
	pool.addAvailability(pieces(4, [0, 3]), 1);
	// Availability: 0→3, 1→2, 2→1, 3→3.
	t.is(pool.pick(pieces(4, [0, 1, 2, 3]))?.index, 2);
	t.is(pool.pick(pieces(4, [0, 1, 3]))?.index, 1);
	// A tie between 0 and 3: either may come first, both come.
	const tied = [pool.pick(pieces(4, [0, 3]))?.index, pool.pick(pieces(4, [0, 3]))?.index];
	t.deepEqual(tied.sort(), [0, 3]);
	t.is(pool.pick(pieces(4, [0, 1, 2, 3])), undefined, 'every piece is taken');
});

test('only hands out pieces the peer has', (t) => {
	const pool = picker(3);
	t.is(pool.pick(pieces(3, [])), undefined);
	t.is(pool.pick(pieces(3, [2]))?.index, 2);
});

test('a released half-done piece is resumed before anything new, with its blocks kept', (t) => {
	const pool = picker(2);
	const all = pieces(2, [0, 1]);
	const first = pool.pick(all);
	t.truthy(first);
	if (!first) {
		return;
	}

	const block = first.claimBlock();
	t.is(first.receive(block * 16_384, Buffer.alloc(first.blockSize(block)), 'a'), 'stored');
	pool.release(first);
	const resumed = pool.pick(all);
	t.is(resumed, first);
	t.false(resumed?.empty);
});

test('a released piece with no block in it simply returns to the pool', (t) => {
	const pool = picker(1);
	const all = pieces(1, [0]);
	const piece = pool.pick(all);
	t.is(pool.bytesInFlight, 100);
	if (piece) {
		pool.release(piece);
	}

	t.is(pool.bytesInFlight, 0);
	t.not(pool.pick(all), piece, 'a fresh piece, not the released object');
});

test('the memory budget is shared between the peers that send: each up to its share, and a peer with nothing gets a piece up to a quarter over', (t) => {
	const pool = picker(8, 400);
	const all = pieces(8, [0, 1, 2, 3, 4, 5, 6, 7]);
	pool.peerSending(true);
	for (let owned = 0; owned < 400; owned += 100) {
		t.truthy(pool.pick(all, owned), 'alone, a peer may use the whole budget');
	}

	t.is(pool.pick(all, 400), undefined, 'but no more');
	pool.peerSending(true);
	pool.peerSending(true);
	t.truthy(pool.pick(all, 0), 'a second peer gets a piece, over the budget if need be');
	t.is(pool.bytesInFlight, 500);
	t.is(pool.pick(all, 0), undefined, 'a third does not: a quarter over the budget is the ceiling');
	pool.markVerifying(0);
	pool.markDone(0);
	pool.markVerifying(1);
	pool.markDone(1);
	t.is(
		pool.pick(all, 200),
		undefined,
		'with three peers sending, a peer holding a third of the budget has its share',
	);
	t.truthy(pool.pick(all, 0), 'done pieces free their owner to pick again');
});

test('however many peers hold nothing, the pieces in flight stay within a quarter over the budget', (t) => {
	const pieceLength = 64 * 1024 * 1024;
	const count = 2000;
	const budget = 256 * 1024 * 1024;
	const pool = checkedPicker(() => pieceLength, count, {maxBytesInFlight: budget, random: () => 0});
	const all = new Bitfield(count);
	for (let index = 0; index < count; index++) {
		all.set(index);
	}

	const peers = 1000;
	for (let peer = 0; peer < peers; peer++) {
		pool.peerSending(true);
	}

	for (let peer = 0; peer < peers; peer++) {
		pool.pick(all, 0);
		t.true(
			pool.bytesInFlight <= budget * 1.25,
			`${pool.bytesInFlight} bytes in flight after ${peer + 1} peers`,
		);
	}

	t.is(pool.bytesInFlight, 5 * pieceLength, 'the budget and one piece more');
});

test('a piece bigger than the whole budget still starts when nothing is in flight, and only then', (t) => {
	const pool = picker(4, 50);
	const all = pieces(4, [0, 1, 2, 3]);
	t.truthy(pool.pick(all, 0));
	t.is(pool.pick(all, 0), undefined);
	pool.markVerifying(0);
	pool.markDone(0);
	t.truthy(pool.pick(all, 0));
});

test('the in-flight budget is four pieces, at least 16 MiB and at most 256 MiB, never less than a piece', (t) => {
	const mebibyte = 1024 * 1024;
	t.is(inFlightBudget(16 * 1024), 16 * mebibyte);
	t.is(inFlightBudget(mebibyte), 16 * mebibyte);
	t.is(inFlightBudget(8 * mebibyte), 32 * mebibyte);
	t.is(inFlightBudget(64 * mebibyte), 256 * mebibyte);
	t.is(inFlightBudget(128 * mebibyte), 256 * mebibyte);
	t.is(inFlightBudget(512 * mebibyte), 512 * mebibyte);
});

test('a failed piece is needed again; done pieces count towards completion', (t) => {
	const pool = picker(2);
	const all = pieces(2, [0, 1]);
	const a = pool.pick(all);
	pool.pick(all);
	pool.markVerifying(a?.index ?? -1);
	t.false(pool.wants(a?.index ?? -1), 'a piece being verified is not wanted from anyone');
	pool.markFailed(a?.index ?? -1);
	t.is(pool.pick(all)?.index, a?.index);
	pool.markDone(0);
	pool.markDone(1);
	t.true(pool.complete);
	t.is(pool.doneBytes, 200);
	t.false(pool.isInteresting(all));
});

test('work becoming available is signalled', (t) => {
	const pool = picker(1);
	let signals = 0;
	PieceSignals.of(pool).workAvailable$.subscribe(() => signals++);
	const piece = pool.pick(pieces(1, [0]));
	if (piece) {
		pool.release(piece);
	}

	t.is(signals, 1);
});

test('after a few picks from random places, equally rare pieces are taken in order from the last pick', (t) => {
	const starts = [0.5, 0.1, 0.9, 0.3];
	const pool = checkedPicker(() => 100, 20, {maxBytesInFlight: 1 << 30, random: () => starts.shift() ?? 0});
	const all = pieces(
		20,
		Array.from({length: 20}, (_, index) => index),
	);
	pool.addAvailability(all, 1);
	const firstFour = [1, 2, 3, 4].map(() => pool.pick(all)?.index);
	t.deepEqual(firstFour, [10, 2, 18, 6]);
	t.deepEqual(
		[1, 2, 3].map(() => pool.pick(all)?.index),
		[7, 8, 9],
	);
	// Rarer pieces still come first, wherever they are.
	pool.addHave(0);
	pool.addAvailability(pieces(20, [1, 11, 12, 13]), 1);
	t.is(pool.pick(all)?.index, 14, 'the rarest pieces (availability 1) after the last pick');
	pool.addAvailability(pieces(20, [15, 16, 17, 19]), 1);
	t.is(pool.pick(all)?.index, 3, 'from the start again, past the taken pieces');
});

test('a seed is interesting while any piece is neither done nor being verified', (t) => {
	const pool = picker(2);
	const seed = pieces(2, [0, 1]);
	t.true(pool.isInteresting(seed));
	pool.markVerifying(pool.pick(seed)?.index ?? -1);
	t.true(pool.isInteresting(seed));
	pool.markVerifying(pool.pick(seed)?.index ?? -1);
	t.false(pool.isInteresting(seed), 'everything is being verified');
	pool.markFailed(1);
	t.true(pool.isInteresting(seed), 'a failed piece is wanted again');
	pool.markDone(0);
	pool.markDone(1);
	t.false(pool.isInteresting(seed));
});
