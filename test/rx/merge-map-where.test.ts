import test from 'ava';
import {of, take, throwError} from 'rxjs';
import {mergeMapWhere} from '../../source/rx/merge-map-where.js';
import {endless} from '../helpers/endless.js';
import {testScheduler} from '../helpers/marbles.js';

const isUpper = (value: string): value is 'A' | 'B' | 'C' => /^[A-Z]$/.test(value);

test('picked values run their inner streams side by side; the others pass straight through', (t) => {
	testScheduler(t).run(({cold, hot, expectObservable, expectSubscriptions}) => {
		const source = hot('-a-A--b-B--c-|');
		const inner = {A: cold('-x-----y|'), B: cold('-z|')};
		const output = source.pipe(mergeMapWhere(isUpper, (value) => inner[value as 'A' | 'B']));
		expectObservable(output).toBe('-a--x-b--zyc-|');
		expectSubscriptions(inner.A.subscriptions).toBe('---^-------!');
		expectSubscriptions(inner.B.subscriptions).toBe('--------^-!');
	});
});

test('completes only when the source and every inner stream have', (t) => {
	testScheduler(t).run(({cold, hot, expectObservable}) => {
		const source = hot('-A-|');
		const output = source.pipe(mergeMapWhere(isUpper, () => cold('----x|')));
		expectObservable(output).toBe('-----x|');
	});
});

test('an inner stream that completes at once is done with, and the rest goes on', (t) => {
	testScheduler(t).run(({hot, expectObservable}) => {
		const source = hot('-A-----b-|');
		const output = source.pipe(mergeMapWhere(isUpper, () => of('x', 'y')));
		expectObservable(output).toBe('-(xy)--b-|');
	});
});

test('an inner error, or a projection that throws, ends the stream and unsubscribes the rest', (t) => {
	testScheduler(t).run(({cold, hot, expectObservable, expectSubscriptions}) => {
		const source = hot('-A-B-c-|');
		const long = cold('------x|');
		const output = source.pipe(
			mergeMapWhere(isUpper, (value) => (value === 'A' ? long : throwError(() => new Error('bad')))),
		);
		expectObservable(output).toBe('---#', undefined, new Error('bad'));
		expectSubscriptions(source.subscriptions).toBe('^--!');
		expectSubscriptions(long.subscriptions).toBe('-^-!');
	});
	testScheduler(t).run(({hot, expectObservable}) => {
		const source = hot('-a-B-|');
		const output = source.pipe(
			mergeMapWhere(isUpper, () => {
				throw new Error('thrown');
			}),
		);
		expectObservable(output).toBe('-a-#', undefined, new Error('thrown'));
	});
});

test('unsubscribing ends the inner streams too', (t) => {
	testScheduler(t).run(({cold, hot, expectObservable, expectSubscriptions}) => {
		const source = hot('-A---');
		const inner = cold('------x|');
		expectObservable(source.pipe(mergeMapWhere(isUpper, () => inner)), '^--!').toBe('----');
		expectSubscriptions(inner.subscriptions).toBe('-^-!');
	});
});

test('a synchronous source, and a synchronous inner stream, stop when the consumer lets go', (t) => {
	const source = endless((i) => (i % 2 === 0 ? 'a' : 'b'));
	const seen: string[] = [];
	source.source$
		.pipe(
			mergeMapWhere(isUpper, () => of('x')),
			take(3),
		)
		.subscribe((value) => seen.push(value));
	t.deepEqual(seen, ['a', 'b', 'a']);
	t.is(source.emitted(), 3);

	const inner = endless(() => 'y');
	const picked: string[] = [];
	of('a', 'B', 'c')
		.pipe(
			mergeMapWhere(isUpper, () => inner.source$),
			take(2),
		)
		.subscribe((value) => picked.push(value));
	t.deepEqual(picked, ['a', 'y']);
	t.is(inner.emitted(), 1);
});
