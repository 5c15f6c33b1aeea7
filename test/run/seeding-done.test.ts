import test from 'ava';
import {seedingDone} from '../../source/run/seeding-done.js';
import {testScheduler} from '../helpers/marbles.js';

const done = {c: undefined, r: undefined};

test('seeding for a time: the clock starts at completion', (t) => {
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const completed$ = hot<void>('---c', done);
		const ratioReached$ = hot<void>('-r', done);
		expectObservable(seedingDone({timeMs: 5}, completed$, ratioReached$)).toBe('--- 5ms (x|)', {x: 0});
		expectSubscriptions(ratioReached$.subscriptions).toBe([]);
	});
});

test('seeding to a ratio: only a crossing after completion counts, and it is listened for from then on', (t) => {
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const completed$ = hot<void>('---c', done);
		const ratioReached$ = hot<void>('-r-----r', done);
		expectObservable(seedingDone({ratio: 1}, completed$, ratioReached$), '^ 9ms !').toBe('-------r', done);
		expectSubscriptions(ratioReached$.subscriptions).toBe('---^------!');
	});
});

test('a time and a ratio: whichever comes first ends the seeding', (t) => {
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const completed$ = hot<void>('---c', done);
		const ratioReached$ = hot<void>('-----r', done);
		expectObservable(seedingDone({timeMs: 4, ratio: 1}, completed$, ratioReached$), '^ 9ms !').toBe(
			'-----r',
			done,
		);
		expectSubscriptions(ratioReached$.subscriptions).toBe('---^------!');
		// The ratio not reached: the time is up at 3 + 4.
		const never$ = hot<void>('-');
		expectObservable(seedingDone({timeMs: 4, ratio: 1}, completed$, never$)).toBe('--- 4ms (x|)', {x: 0});
	});
});

test('no limit: seeding goes on until the run is stopped, and the ratio is never listened for', (t) => {
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const completed$ = hot<void>('---c', done);
		const ratioReached$ = hot<void>('-----r', done);
		expectObservable(seedingDone({}, completed$, ratioReached$), '^ 9ms !').toBe('');
		expectSubscriptions(completed$.subscriptions).toBe('^--!');
		expectSubscriptions(ratioReached$.subscriptions).toBe([]);
	});
});
