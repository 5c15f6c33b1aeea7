import test from 'ava';
import {useResource} from '../../source/rx/use-resource.js';
import {testScheduler} from '../helpers/marbles.js';

test('completes with its user and releases the resource exactly then', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const resource = cold('-r');
		const work = cold('--a-b|');
		expectObservable(useResource(resource, () => work)).toBe('---a-b|');
		expectSubscriptions(resource.subscriptions).toBe('^-----!');
		expectSubscriptions(work.subscriptions).toBe('-^----!');
	});
});

test('an error in the user releases the resource too', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const resource = cold('r');
		expectObservable(useResource(resource, () => cold('--#'))).toBe('--#');
		expectSubscriptions(resource.subscriptions).toBe('^-!');
	});
});
