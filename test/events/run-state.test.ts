import test from 'ava';
import type {RunEvent, TimedEvent} from '../../source/events/events.js';
import {
	foldRunEvents,
	initialRunState,
	type RunState,
	reduceRunState,
} from '../../source/events/run-state.js';
import {snapshot} from '../../source/ui/snapshot.js';

const fold = (events: TimedEvent[]): RunState => events.reduce(reduceRunState, initialRunState);
const started: TimedEvent = {
	type: 'started',
	name: 'ubuntu.iso',
	infoHash: 'ab'.repeat(20),
	pieceCount: 10,
	pieceLength: 1_000_000,
	totalLength: 10_000_000,
	at: 0,
};

test('counts verified pieces and bytes', (t) => {
	const state = fold([
		started,
		{type: 'piece-verified', peer: 'a', index: 0, bytes: 1_000_000, at: 1000},
		{type: 'piece-verified', peer: 'a', index: 1, bytes: 1_000_000, at: 2000},
	]);
	t.is(state.name, 'ubuntu.iso');
	t.is(state.piecesDone, 2);
	t.is(state.bytesDone, 2_000_000);
	t.is(state.phase, 'downloading');
});

test('the rate covers a sliding window of event times, not the wall clock', (t) => {
	const pieces = Array.from(
		{length: 20},
		(_, index): TimedEvent => ({
			type: 'piece-verified',
			peer: 'a',
			index,
			bytes: 500_000,
			at: 500 * (index + 1),
		}),
	);
	const state = fold([started, ...pieces]);
	// Ten pieces landed in the last five seconds: 5 MB over 5 s.
	t.is(Math.round(state.downloadRate), 1_000_000);
	const later = reduceRunState(state, {type: 'peer-choked', peer: 'a', at: 10_000 + 5000});
	t.is(later.downloadRate, 0, 'nothing arrived in the last window');
});

test('tracks peers by address from connecting to gone, counting only those past the handshake', (t) => {
	const state = fold([
		started,
		{type: 'peer-connecting', peer: 'a', at: 1},
		{type: 'peer-connected', peer: 'a', peerId: '-LT2080-abcdefghijkl', at: 2},
		{type: 'peer-connecting', peer: 'b', at: 3},
		{type: 'peer-connecting', peer: 'c', at: 4},
		{type: 'peer-disconnected', peer: 'b', reason: 'refused', at: 5},
	]);
	t.deepEqual([...state.peers.keys()], ['a', 'c']);
	t.is(state.connectedPeers, 1);
	t.is(state.peers.get('a')?.client, 'libtorrent 2.0.8');
	t.is(state.peers.get('a')?.status, 'choked');
	t.is(state.peers.get('c')?.status, 'connecting');
	t.is(state.peers.get('c')?.client, '');
});

test("a peer's status follows choke, unchoke and the pieces in flight from it", (t) => {
	const connected = fold([
		started,
		{type: 'peer-connecting', peer: 'a', at: 1},
		{type: 'peer-connected', peer: 'a', peerId: '-RX0001-abcdefghijkl', at: 2},
	]);
	const unchoked = reduceRunState(connected, {type: 'peer-unchoked', peer: 'a', at: 3});
	t.is(unchoked.peers.get('a')?.status, 'unchoked');
	const sending = [
		{type: 'piece-started', peer: 'a', index: 4, at: 4},
		{type: 'piece-started', peer: 'a', index: 7, at: 5},
	].reduce<RunState>((state, event) => reduceRunState(state, event as TimedEvent), unchoked);
	t.is(sending.peers.get('a')?.status, 'downloading');
	t.is(sending.peers.get('a')?.piecesInFlight, 2);
	t.is(sending.peers.get('a')?.currentPiece, 7, 'the piece started last');
	const oneLeft = reduceRunState(sending, {type: 'piece-verified', peer: 'a', index: 4, bytes: 10, at: 6});
	t.is(oneLeft.peers.get('a')?.piecesInFlight, 1);
	t.is(oneLeft.peers.get('a')?.status, 'downloading');
	t.is(oneLeft.peers.get('a')?.piecesDownloaded, 1);
	const failed = reduceRunState(oneLeft, {type: 'piece-failed', peer: 'a', index: 7, strikes: 1, at: 7});
	t.is(failed.peers.get('a')?.status, 'unchoked');
	t.is(failed.peers.get('a')?.piecesInFlight, 0);
	t.is(failed.peers.get('a')?.currentPiece, undefined);
	const choked = reduceRunState(sending, {type: 'peer-choked', peer: 'a', at: 8});
	t.is(choked.peers.get('a')?.status, 'choked');
	t.is(choked.peers.get('a')?.piecesInFlight, 0, 'a choke cancels what was in flight');
	t.is(
		reduceRunState(choked, {type: 'piece-started', peer: 'a', index: 9, at: 9}).peers.get('a')?.status,
		'choked',
	);
});

test('per-peer rates slide with event time: a peer that stops sending drops to zero', (t) => {
	const connected = fold([
		started,
		{type: 'peer-connected', peer: 'a', peerId: 'x', at: 0},
		{type: 'peer-connected', peer: 'b', peerId: 'y', at: 0},
	]);
	const pieces = Array.from(
		{length: 10},
		(_, index): TimedEvent => ({
			type: 'piece-verified',
			peer: 'a',
			index,
			bytes: 100_000,
			at: 1000 * (index + 1),
		}),
	);
	const uploads = Array.from(
		{length: 10},
		(_, index): TimedEvent => ({type: 'uploaded', peer: 'b', bytes: 20_000, at: 1000 * (index + 1)}),
	);
	const busy = [...pieces, ...uploads].sort((a, b) => a.at - b.at).reduce(reduceRunState, connected);
	// Five pieces of the last five seconds (6 s to 10 s): 500 kB over 5 s.
	t.is(Math.round(busy.peers.get('a')?.downloadRate ?? -1), 100_000);
	t.is(busy.peers.get('a')?.bytesDownloaded, 1_000_000);
	t.is(Math.round(busy.peers.get('b')?.uploadRate ?? -1), 20_000);
	t.is(busy.peers.get('b')?.bytesUploaded, 200_000);
	t.is(busy.peers.get('b')?.downloadRate, 0);
	const quiet = reduceRunState(busy, {type: 'no-peers', at: 20_000});
	t.is(quiet.peers.get('a')?.downloadRate, 0);
	t.is(quiet.peers.get('b')?.uploadRate, 0);
});

test('the ETA is what is left over the current rate, and gone when complete', (t) => {
	const state = fold([
		started,
		{type: 'piece-verified', peer: 'a', index: 0, bytes: 1_000_000, at: 1000},
		{type: 'piece-verified', peer: 'a', index: 1, bytes: 1_000_000, at: 2000},
	]);
	// 2 MB in 2 s is 1 MB/s; 8 MB left.
	t.is(state.etaSeconds, 8);
	t.is(fold([started]).etaSeconds, undefined, 'no rate yet, no ETA');
	t.is(reduceRunState(state, {type: 'completed', bytes: 10_000_000, at: 3000}).etaSeconds, undefined);
});

test('the header shows the last tracker answer or failure', (t) => {
	const answered = reduceRunState(fold([started]), {
		type: 'announce-answered',
		tracker: 'http://127.0.0.1:6969/announce',
		event: 'started',
		peers: [{host: '127.0.0.1', port: 1}],
		interval: 1800,
		at: 1,
	});
	t.deepEqual(answered.tracker, {host: '127.0.0.1:6969', peers: 1});
	const failed = reduceRunState(answered, {
		type: 'announce-failed',
		tracker: 'http://tracker.example/announce',
		event: 'regular',
		reason: 'timed out',
		at: 2,
	});
	t.deepEqual(failed.tracker, {host: 'tracker.example', failure: 'timed out'});
	t.is(snapshot(failed).tracker, 'tracker.example: timed out');
	t.is(snapshot(answered).tracker, '1 peer from 127.0.0.1:6969');
});

test('pieces found on disk count as done bytes, exactly when the event says how many', (t) => {
	const state = reduceRunState(fold([started]), {
		type: 'checked',
		pieces: 3,
		total: 10,
		bytes: 2_500_000,
		at: 1,
	});
	t.is(state.piecesDone, 3);
	t.is(state.bytesDone, 2_500_000);
	const oldLog = reduceRunState(fold([started]), {type: 'checked', pieces: 3, total: 10, at: 1});
	t.is(oldLog.bytesDone, 3_000_000, 'an older log: average pieces');
	const done = reduceRunState(state, {type: 'completed', bytes: 10_000_000, at: 2});
	t.is(snapshot(done).progress, 1, 'complete is 100%, whatever was estimated');
});

test('phases: starving when every peer is gone, completed at the end', (t) => {
	const starving = fold([started, {type: 'no-peers', at: 1}]);
	t.is(starving.phase, 'starving');
	t.is(
		reduceRunState(starving, {type: 'peer-connected', peer: 'a', peerId: 'x', at: 2}).phase,
		'downloading',
	);
	t.is(reduceRunState(starving, {type: 'completed', bytes: 1, at: 3}).phase, 'completed');
});

test('the reducer does not mutate the state it is given', (t) => {
	const before = fold([started, {type: 'peer-connected', peer: 'a', peerId: 'x', at: 1}]);
	const snapshot = structuredClone(before);
	reduceRunState(before, {type: 'peer-disconnected', peer: 'a', reason: 'closed', at: 2});
	reduceRunState(before, {type: 'piece-started', peer: 'a', index: 1, at: 3});
	reduceRunState(before, {type: 'piece-verified', peer: 'a', index: 1, bytes: 5, at: 4});
	t.deepEqual(before, snapshot);
});

test('folding events in batches gives the state that folding them one by one gives', (t) => {
	const peers = ['a', 'b', 'c'];
	const events: TimedEvent[] = [started];
	let at = 0;
	const next = (event: RunEvent) => {
		at += 137;
		events.push({...event, at});
	};
	for (const peer of peers) {
		next({type: 'peer-connecting', peer, source: 'tracker'});
		next({type: 'peer-connected', peer, peerId: '-LT2080-abcdefghijkl'});
		next({type: 'peer-unchoked', peer});
	}

	for (let index = 0; index < 90; index++) {
		const peer = peers[index % 3] ?? 'a';
		next({type: 'piece-started', peer, index});
		if (index % 7 === 0) {
			next({type: 'uploaded', peer, bytes: 16_384});
		}

		if (index % 11 === 0) {
			next({type: 'piece-failed', peer, index, strikes: 1});
		} else {
			next({type: 'piece-verified', peer, index, bytes: 100_000});
		}

		if (index === 40) {
			next({type: 'peer-choked', peer: 'b'});
			next({type: 'peer-disconnected', peer: 'c', reason: 'connection closed'});
		}
	}

	next({type: 'completed', bytes: 10_000_000});
	const oneByOne = fold(events);
	for (const size of [1, 2, 5, 64, events.length]) {
		let state = initialRunState;
		for (let from = 0; from < events.length; from += size) {
			state = foldRunEvents(state, events.slice(from, from + size));
		}

		t.deepEqual(state, oneByOne, `in batches of ${size}`);
	}

	t.is(foldRunEvents(oneByOne, []), oneByOne, 'an empty batch changes nothing');
});

/** Pieces of 10 over a (0..25), a pad (25..30, not listed), b (30..45) and c (45..55); b alone selected. */
const startedWithFiles: TimedEvent = {
	type: 'started',
	name: 'set',
	infoHash: 'cd'.repeat(20),
	pieceCount: 6,
	pieceLength: 10,
	totalLength: 50,
	files: [
		{number: 1, path: 'set/a', offset: 0, length: 25, selected: false},
		{number: 2, path: 'set/b', offset: 30, length: 15, selected: true},
		{number: 3, path: 'set/c', offset: 45, length: 10, selected: false},
	],
	at: 0,
};

test("each file's progress is its part of the pieces verified; the selection sums the selected files", (t) => {
	// Piece 3 is b's 30..40; piece 4 b's 40..45 and c's 45..50.
	const state = fold([
		startedWithFiles,
		{type: 'piece-verified', peer: 'a', index: 3, bytes: 10, at: 10},
		{type: 'piece-verified', peer: 'a', index: 4, bytes: 10, at: 20},
	]);
	t.deepEqual(
		state.files.map((file) => file.done),
		[0, 15, 5],
	);
	t.deepEqual(state.selection, {files: 1, ofFiles: 3, bytes: 15, ofBytes: 50, done: 15});
});

test("the check's pieces count for the files they touch; completion fills the selected files", (t) => {
	// Pieces 2 (a's 20..25 and the pad) and 3 (b's 30..40): 0b00110000.
	const checked = fold([
		startedWithFiles,
		{
			type: 'checked',
			pieces: 2,
			total: 6,
			bytes: 15,
			have: Buffer.from([0b0011_0000]).toString('base64'),
			at: 5,
		},
	]);
	t.deepEqual(
		checked.files.map((file) => file.done),
		[5, 10, 0],
	);
	const completed = reduceRunState(checked, {type: 'completed', bytes: 25, at: 9});
	t.deepEqual(
		completed.files.map((file) => file.done),
		[5, 15, 0],
	);
	t.is(completed.selection?.done, 15);
});

test('a log without files has no file list and no selection; every file selected is no selection', (t) => {
	t.deepEqual(fold([started]).files, []);
	t.is(fold([started]).selection, undefined);
	const all = {
		...startedWithFiles,
		files:
			startedWithFiles.type === 'started'
				? startedWithFiles.files?.map((file) => ({...file, selected: true}))
				: [],
	} as TimedEvent;
	t.is(fold([all]).selection, undefined);
	t.is(fold([all]).files.length, 3);
});

test("a checked event's bitfield is read only as far as its bytes go", (t) => {
	const state = fold([startedWithFiles, {type: 'checked', pieces: 1, total: 1e12, have: 'gA==', at: 5}]);
	t.deepEqual(
		state.files.map((file) => file.done),
		[10, 0, 0],
	);
});
