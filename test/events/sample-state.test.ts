import test from 'ava';
import {sampleState} from '../../source/events/sample-state.js';
import {testScheduler} from '../helpers/marbles.js';

test('passes the first state at once, then at most one per period, the latest of it', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const states = cold('  a 9ms bc 35ms d 99ms e 9ms f 89ms |');
		const subscription = ' ^ 246ms !';
		expectObservable(states.pipe(sampleState(100))).toBe('a 99ms d 99ms f 46ms |');
		expectSubscriptions(states.subscriptions).toBe(subscription);
	});
});

test('the last state always arrives, even when the run ends inside a period', (t) => {
	testScheduler(t).run(({cold, expectObservable}) => {
		expectObservable(cold('a 9ms b 9ms c |').pipe(sampleState(100))).toBe('a 99ms (c|)');
	});
});
