import test from 'ava';
import type {TimedEvent} from '../../source/events/events.js';
import {replayEvents} from '../../source/events/replay.js';
import {testScheduler} from '../helpers/marbles.js';

const recorded: TimedEvent[] = [
	{
		type: 'started',
		name: 'x',
		infoHash: 'ab',
		pieceCount: 2,
		pieceLength: 16,
		totalLength: 32,
		at: 1_000_000,
	},
	{type: 'peer-connected', peer: 'p', peerId: 'q', at: 1_000_100},
	{type: 'piece-verified', peer: 'p', index: 0, bytes: 16, at: 1_000_250},
	{type: 'piece-verified', peer: 'p', index: 1, bytes: 16, at: 1_000_250},
];

test('replays a recorded run with its original gaps, the events unchanged', (t) => {
	testScheduler(t).run(({expectObservable}) => {
		const [a, b, c, d] = recorded;
		expectObservable(replayEvents(recorded, {speed: 1})).toBe('a 99ms b 149ms (cd|)', {a, b, c, d});
	});
});

test('--replay-speed divides every gap', (t) => {
	testScheduler(t).run(({expectObservable}) => {
		const [a, b, c, d] = recorded;
		expectObservable(replayEvents(recorded, {speed: 2})).toBe('a 49ms b 74ms (cd|)', {a, b, c, d});
	});
});
