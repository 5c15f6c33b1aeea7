import test from 'ava';
import {withResource} from '../../source/rx/with-resource.js';
import {testScheduler} from '../helpers/marbles.js';

test('completes with its user and releases the resource exactly then', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const resource = cold('-r');
		const work = cold('--a-b|');
		expectObservable(withResource(resource, () => work)).toBe('---a-b|');
		expectSubscriptions(resource.subscriptions).toBe('^-----!');
		expectSubscriptions(work.subscriptions).toBe('-^----!');
	});
});

test('an error in the user releases the resource too', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const resource = cold('r');
		expectObservable(withResource(resource, () => cold('--#'))).toBe('--#');
		expectSubscriptions(resource.subscriptions).toBe('^-!');
	});
});
