import test from 'ava';
import {tap} from 'rxjs';
import {throttledProgress} from '../../source/rx/throttled-progress.js';
import {testScheduler} from '../helpers/marbles.js';

/** The running count as a one-character marble value. */
const progress = (count: number) => String(count);

test('the first count at once, then the latest once per period; the last before the end, then what done gives', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		// Period 5: b and c fall in the window a opened, only c's count (3) comes out, when it
		// closes; e's count waits for its window though the source has completed.
		const source = cold('-a-b-c---------d-e|');
		const output = source.pipe(throttledProgress(5, progress, () => ['D', 'E']));
		expectObservable(output).toBe('-1----3--------4----(5DE|)');
		expectSubscriptions(source.subscriptions).toBe('^-----------------!');
	});
});

test('done is read when the source completes, so it sees everything the source did', (t) => {
	testScheduler(t).run(({cold, expectObservable}) => {
		let seen = 0;
		const source = cold('-a-b-c|').pipe(tap(() => seen++));
		const output = source.pipe(throttledProgress(10, progress, () => [`seen ${seen}`]));
		expectObservable(output).toBe('-1---------(xy|)', {1: '1', x: '3', y: 'seen 3'});
	});
});

test('an empty source reports no progress, only what done gives', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const source = cold('---|');
		expectObservable(source.pipe(throttledProgress(5, progress, () => ['D']))).toBe('---(D|)');
		expectSubscriptions(source.subscriptions).toBe('^--!');
	});
});

test('a source error ends the stream without done, and unsubscribing lets go of the source', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const failing = cold('-a-b-#', undefined, new Error('read failed'));
		let doneCalls = 0;
		const output = failing.pipe(
			throttledProgress(10, progress, () => {
				doneCalls++;
				return ['D'];
			}),
		);
		expectObservable(output).toBe('-1---#', undefined, new Error('read failed'));
		expectSubscriptions(failing.subscriptions).toBe('^----!');
		t.is(doneCalls, 0);
	});
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const endless = cold('-a-b-c-d-e-f-');
		expectObservable(endless.pipe(throttledProgress(3, progress, () => ['D'])), '------!').toBe('-1--2-');
		expectSubscriptions(endless.subscriptions).toBe('^-----!');
	});
});
