import test from 'ava';
import {Bitfield} from '../../source/codec/bitfield.js';
import {inFlightBudget, PiecePicker} from '../../source/download/piece-picker.js';
import {PieceSignals} from '../../source/download/piece-signals.js';
import {normalPriority, notWanted, WantedPieces} from '../../source/download/wanted-pieces.js';
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

test('nextPiece is a query: asked again it answers the same and changes nothing; markDownloading commits', (t) => {
	let draws = 0;
	const pool = checkedPicker(() => 100, 4, {
		maxBytesInFlight: 1 << 30,
		random: () => {
			draws++;
			return 0;
		},
	});
	const all = pieces(4, [0, 1, 2, 3]);
	pool.addAvailability(all, 1);
	pool.addAvailability(pieces(4, [0, 1, 3]), 1);
	const drawn = draws;
	t.is(pool.nextPiece(all), 2, 'the rarest');
	t.is(pool.nextPiece(all), 2);
	t.is(draws, drawn, 'no random start is drawn by a question');
	t.is(pool.bytesInFlight, 0);
	t.false(pool.endgame);
	t.is(pool.nextPiece(pieces(4, [1])), 1, 'another peer is answered for its own pieces');
	const started = pool.markDownloading(2);
	t.is(started.index, 2);
	t.is(pool.bytesInFlight, 100);
	t.is(pool.nextPiece(all), 0, 'the next piece is another');
	t.throws(() => pool.markDownloading(2), {message: /neither needed nor an orphan/});
});

test('nextPiece names a half-done orphan first, and markDownloading hands over the same progress', (t) => {
	const pool = checkedPicker(() => 100, 3, {maxBytesInFlight: 1 << 30, random: () => 0});
	const all = pieces(3, [0, 1, 2]);
	const piece = pool.markDownloading(1);
	piece.receive(0, Buffer.alloc(100), 'a');
	pool.release(piece);
	t.is(pool.nextPiece(all), 1);
	t.is(pool.nextPiece(pieces(3, [0, 2])), 0, 'a peer without it gets a fresh piece');
	t.is(pool.markDownloading(1), piece);
	t.is(pool.bytesInFlight, 100, 'an orphan was in flight all along');
});

test('nextPiece answers -1 when the budget is spent, without changing anything', (t) => {
	const pool = checkedPicker(() => 100, 3, {maxBytesInFlight: 100, random: () => 0});
	const all = pieces(3, [0, 1, 2]);
	pool.peerSending(true);
	pool.markDownloading(pool.nextPiece(all));
	t.is(pool.nextPiece(all, 100), -1, 'a peer with its share gets nothing');
	t.is(pool.pick(all, 100), undefined);
	t.is(pool.bytesInFlight, 100);
});

test('checkInvariant names the counter that is off', (t) => {
	const wanted = new WantedPieces(3);
	const pool = new PiecePicker(() => 100, 3, {maxBytesInFlight: 1 << 30, wanted});
	t.notThrows(() => pool.checkInvariant());
	// Behind the picker's back: its books still count piece 0 as needed.
	wanted.priorities[0] = notWanted;
	t.throws(() => pool.checkInvariant(), {message: /neededCount is 3, counted 2/});
	wanted.priorities[0] = normalPriority;
	pool.have.set(2);
	t.throws(() => pool.checkInvariant(), {message: /have says true for piece 2/});
});

test('with checkInvariants the picker checks itself after every change, and a query is no change', (t) => {
	const wanted = new WantedPieces(3);
	const pool = new PiecePicker(() => 100, 3, {maxBytesInFlight: 1 << 30, wanted, checkInvariants: true});
	let checks = 0;
	const check = pool.checkInvariant.bind(pool);
	pool.checkInvariant = () => {
		checks++;
		check();
	};

	const all = pieces(3, [0, 1, 2]);
	pool.addHave(0);
	pool.nextPiece(all);
	pool.isInteresting(all);
	t.is(checks, 1, 'after the have only');
	const piece = pool.markDownloading(0);
	pool.release(piece);
	pool.markVerifying(1);
	pool.markFailed(1);
	pool.markDone(2);
	wanted.set(0, notWanted);
	t.is(checks, 7);
	wanted.priorities[1] = notWanted;
	t.throws(
		() => pool.addHave(1),
		{message: /neededCount/},
		'a change behind its back is caught at the next step',
	);
});

test('a piece not wanted is never picked, makes no peer interesting and does not count toward complete', (t) => {
	const wanted = new WantedPieces(3);
	wanted.set(1, notWanted);
	const pool = checkedPicker(() => 100, 3, {maxBytesInFlight: 1 << 30, random: () => 0, wanted});
	const signals = PieceSignals.of(pool);
	let completed = false;
	signals.verified$.subscribe({complete: () => (completed = true)});
	t.is(pool.pick(pieces(3, [1])), undefined);
	t.false(pool.isInteresting(pieces(3, [1])));
	t.false(pool.wants(1));
	t.true(pool.isInteresting(pieces(3, [0, 1, 2])));
	const picked = [pool.pick(pieces(3, [0, 1, 2]))?.index, pool.pick(pieces(3, [0, 1, 2]))?.index];
	t.deepEqual(picked, [0, 2]);
	t.true(pool.endgame, 'no wanted piece is left to start');
	t.is(
		pool.pickDuplicate(pieces(3, [1]), () => false),
		undefined,
	);
	pool.markVerifying(0);
	pool.markVerifying(2);
	t.false(pool.isInteresting(pieces(3, [0, 1, 2])), 'a seed has nothing we want');
	pool.markDone(0);
	pool.markDone(2);
	t.true(pool.complete);
	t.true(completed, 'verified$ completes with the wanted pieces');
	t.is(pool.doneCount, 2);
});

test('among wanted pieces a higher priority wins before rarity; the rarest wins among equals', (t) => {
	const wanted = new WantedPieces(6);
	const pool = checkedPicker(() => 100, 6, {maxBytesInFlight: 1 << 30, random: () => 0, wanted});
	const all = pieces(6, [0, 1, 2, 3, 4, 5]);
	pool.addAvailability(all, 1);
	pool.addAvailability(pieces(6, [0, 1, 2, 3, 5]), 1);
	// Availability: 4→1, the others 2.
	wanted.set(5, 7);
	wanted.set(2, 6);
	wanted.set(3, 6);
	pool.addHave(3);
	wanted.set(0, 1);
	t.deepEqual(
		[1, 2, 3, 4, 5, 6].map(() => pool.pick(all)?.index),
		[5, 2, 3, 4, 1, 0],
		'7, then 6 by rarity (3 is had by one more), then the rarest of 4, then 1',
	);
});

test('the prioritized search picks as the fast path does when priorities do not differ among the pieces asked', (t) => {
	const count = 64;
	const build = (wanted?: WantedPieces) =>
		checkedPicker(() => 100, count, {
			maxBytesInFlight: 1 << 30,
			random: () => 0.37,
			...(wanted ? {wanted} : {}),
		});
	const skewed = new WantedPieces(count);
	skewed.set(count - 1, 7);
	const fast = build();
	const prioritized = build(skewed);
	t.true(fast.wanted.uniform);
	t.false(prioritized.wanted.uniform);
	const asked = pieces(
		count,
		Array.from({length: count - 1}, (_, index) => index),
	);
	for (const pool of [fast, prioritized]) {
		// The asking peer counts too, as a downloader adds its pieces before it asks.
		pool.addAvailability(asked, 1);
		for (let index = 0; index < count; index += 3) {
			pool.addAvailability(pieces(count, [index, (index * 7) % count]), 1);
		}
	}

	const order = (pool: PiecePicker) => Array.from({length: count - 1}, () => pool.pick(asked)?.index);
	t.deepEqual(order(prioritized), order(fast));
});

test('wantedness changed at run time keeps the books: in flight, orphaned, verifying and needed pieces', (t) => {
	const wanted = new WantedPieces(4);
	const pool = checkedPicker(() => 100, 4, {maxBytesInFlight: 1 << 30, random: () => 0, wanted});
	const signals = PieceSignals.of(pool);
	let work = 0;
	signals.workAvailable$.subscribe(() => work++);
	const all = pieces(4, [0, 1, 2, 3]);
	const first = pool.pick(all);
	const second = pool.pick(all);
	if (!first || !second) {
		t.fail('two pieces to start');
		return;
	}

	first.receive(0, Buffer.alloc(100), 'a');
	pool.release(first);
	pool.markVerifying(second.index);
	for (const index of [0, 1, 2]) {
		wanted.set(index, notWanted);
	}

	t.is(pool.nextPiece(all), 3, 'the unwanted orphan waits; the one wanted piece comes');
	t.is(pool.bytesInFlight, 200, 'pieces in flight still hold their memory');
	wanted.set(0, normalPriority);
	t.is(work, 2, 'a released orphan and a piece wanted again');
	t.is(pool.pick(all), first, 'the orphan wanted again is resumed');
	pool.markDone(second.index);
	t.false(pool.complete);
	wanted.set(2, 7);
	t.is(pool.pick(pieces(4, [2, 3]))?.index, 2);
});

test('a download made complete by a piece no longer wanted says so', (t) => {
	const wanted = new WantedPieces(2);
	const pool = checkedPicker(() => 100, 2, {maxBytesInFlight: 1 << 30, random: () => 0, wanted});
	let completed = false;
	PieceSignals.of(pool).verified$.subscribe({complete: () => (completed = true)});
	pool.markDone(0);
	t.false(completed);
	wanted.set(1, notWanted);
	t.true(pool.complete);
	t.true(completed);
	t.false(pool.endgame);
});

test('pieces on disk and pieces not wanted from the start are counted once', (t) => {
	const wanted = new WantedPieces(4);
	wanted.setRange(2, 3, notWanted);
	const pool = checkedPicker(() => 100, 4, {
		maxBytesInFlight: 1 << 30,
		random: () => 0,
		wanted,
		have: pieces(4, [0, 3]),
	});
	t.is(pool.doneCount, 2);
	t.is(pool.doneBytes, 200);
	t.is(pool.pick(pieces(4, [0, 1, 2, 3]))?.index, 1);
	t.true(pool.endgame);
});

test('a picker without PieceSignals cannot drive a peer stage, and says why', (t) => {
	const pool = new PiecePicker(() => 100, 1, {maxBytesInFlight: 100});
	t.throws(() => PieceSignals.of(pool), {message: /without PieceSignals/});
});
