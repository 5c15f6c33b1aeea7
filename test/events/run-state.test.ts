import test from 'ava';
import type {TimedEvent} from '../../source/events/events.js';
import {initialRunState, type RunState, reduceRunState} from '../../source/events/run-state.js';

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

test('tracks connected peers by address, ignoring peers that never connected', (t) => {
	const state = fold([
		started,
		{type: 'peer-connecting', peer: 'a', at: 1},
		{type: 'peer-connected', peer: 'a', peerId: 'x', at: 2},
		{type: 'peer-connecting', peer: 'b', at: 3},
		{type: 'peer-disconnected', peer: 'b', reason: 'refused', at: 4},
		{type: 'peer-connected', peer: 'c', peerId: 'y', at: 5},
		{type: 'peer-disconnected', peer: 'c', reason: 'closed', at: 6},
	]);
	t.deepEqual([...state.peers], ['a']);
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
	const snapshot = {...before, peers: [...before.peers]};
	reduceRunState(before, {type: 'peer-disconnected', peer: 'a', reason: 'closed', at: 2});
	t.deepEqual({...before, peers: [...before.peers]}, snapshot);
});
