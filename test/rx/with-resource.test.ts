import test from 'ava';
import {Observable, of, take} from 'rxjs';
import {withResource} from '../../source/rx/with-resource.js';
import {endless} from '../helpers/endless.js';
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

test('a resource that fails fails the run and lets go of the user', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const resource = cold('r--#');
		const work = cold('-a-----b|');
		expectObservable(withResource(resource, () => work)).toBe('-a-#');
		expectSubscriptions(work.subscriptions).toBe('^--!');
	});
});

test('cancelled from outside, the user lets go before the resource is released', (t) => {
	const released: string[] = [];
	const resource$ = new Observable<string>((subscriber) => {
		subscriber.next('file');
		return () => released.push('resource');
	});
	const subscription = withResource(
		resource$,
		() =>
			new Observable<never>(() => () => {
				released.push('user');
			}),
	).subscribe();
	subscription.unsubscribe();
	t.deepEqual(released, ['user', 'resource']);
});

test('a user that ends at once releases the resource at once', (t) => {
	const released: string[] = [];
	const resource$ = new Observable<string>((subscriber) => {
		subscriber.next('file');
		return () => released.push('resource');
	});
	const values: string[] = [];
	withResource(resource$, (file) => of(`used ${file}`)).subscribe((value) => values.push(value));
	t.deepEqual(values, ['used file']);
	t.deepEqual(released, ['resource']);
});

test('a second resource replaces the first user with a user of its own', (t) => {
	testScheduler(t).run(({cold, hot, expectObservable}) => {
		const resource = hot('r---s');
		expectObservable(withResource(resource, (name) => cold('-x-x-x|', {x: name}))).toBe('-r-r-s-s-s|', {
			r: 'r',
			s: 's',
		});
	});
});

test('a synchronous resource, and a synchronous user, stop when the consumer lets go', (t) => {
	const resources = endless((i) => i);
	const first: number[] = [];
	withResource(resources.source$, (resource) => of(resource, resource))
		.pipe(take(1))
		.subscribe((value) => first.push(value));
	t.deepEqual(first, [0]);
	t.is(resources.emitted(), 1);

	const work = endless((i) => i);
	const taken: number[] = [];
	withResource(of('r'), () => work.source$)
		.pipe(take(2))
		.subscribe((value) => taken.push(value));
	t.deepEqual(taken, [0, 1]);
	t.is(work.emitted(), 2);
});
