import test from 'ava';
import {map} from 'rxjs';
import type {TimedEvent} from '../../source/events/events.js';
import {sampleRunState} from '../../source/events/sample-state.js';
import {testScheduler} from '../helpers/marbles.js';

const verified = (index: number): TimedEvent => ({
	type: 'piece-verified',
	peer: 'a',
	index,
	bytes: 10,
	at: 0,
});
const events = {a: verified(0), b: verified(1), c: verified(2), d: verified(3), e: verified(4)};

test('the first event is shown at once, then one state a period with every event of it', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const events$ = cold('  a 9ms b 35ms c 99ms d 9ms e 89ms |', events);
		const subscription = '  ^ 245ms !';
		expectObservable(
			events$.pipe(
				sampleRunState(100),
				map((state) => state.piecesDone),
			),
		).toBe('x 99ms y 99ms z 45ms |', {x: 1, y: 3, z: 5});
		expectSubscriptions(events$.subscriptions).toBe(subscription);
	});
});

test('the last events are folded as the run ends, without waiting out the period', (t) => {
	testScheduler(t).run(({cold, expectObservable}) => {
		expectObservable(
			cold('a 9ms b 9ms c |', events).pipe(
				sampleRunState(100),
				map((state) => state.piecesDone),
			),
		).toBe('x 20ms (y|)', {x: 1, y: 3});
	});
});

test('a quiet period shows nothing, and the next event is shown at once', (t) => {
	testScheduler(t).run(({cold, expectObservable}) => {
		expectObservable(
			cold('a 299ms b 9ms c 99ms |', events).pipe(
				sampleRunState(100),
				map((state) => state.piecesDone),
			),
		).toBe('x 299ms y 99ms z 9ms |', {x: 1, y: 2, z: 3});
	});
});

test('a check done, the completion and seeding each end their batch: a view sees every phase they start', (t) => {
	testScheduler(t).run(({cold, expectObservable}) => {
		const milestones = {
			a: verified(0),
			k: {type: 'checked', pieces: 2, total: 4, at: 0} as const,
			c: {type: 'completed', bytes: 40, at: 0} as const,
			s: {type: 'seeding', at: 0} as const,
			b: verified(1),
		};
		expectObservable(
			cold('a 9ms k 9ms b c s 9ms b 200ms |', milestones).pipe(
				sampleRunState(100),
				map((state) => `${state.phase} ${state.milestones}`),
			),
		).toBe('x 9ms y 10ms z w 77ms v 132ms |', {
			x: 'starting 0',
			y: 'downloading 1',
			z: 'completed 2',
			w: 'seeding 3',
			v: 'seeding 3',
		});
	});
});
