import test from 'ava';
import {asyncScheduler, catchError, type Observable, of} from 'rxjs';
import {replyWaitMs, withRetransmits} from '../../source/tracker/udp-retransmit.js';
import {testScheduler} from '../helpers/marbles.js';

const messageOnError = (request$: Observable<string>) =>
	request$.pipe(catchError((error: unknown) => of(`error: ${(error as Error).message}`)));

test('BEP 15: the wait doubles with each transmission, from 15 s', (t) => {
	t.deepEqual(
		[0, 1, 2, 3, 8].map((n) => replyWaitMs(n, 15_000) / 1000),
		[15, 30, 60, 120, 3840],
	);
});

test('sends at 0, 15 s and 45 s; a reply during the last wait ends it', (t) => {
	const sentAt: number[] = [];
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const reply$ = hot('50s r');
		const request$ = withRetransmits(() => sentAt.push(asyncScheduler.now()), reply$, {
			baseMs: 15_000,
			maxRetransmits: 2,
		});
		expectObservable(request$).toBe('50s (r|)');
		// One subscription per transmission, each ended by its wait or the reply.
		expectSubscriptions(reply$.subscriptions).toBe(['^ 14999ms !', '15s ^ 29999ms !', '45s ^ 4999ms !']);
	});
	t.deepEqual(sentAt, [0, 15_000, 45_000]);
});

test('no reply at all: three transmissions, then an error after 105 s that says so', (t) => {
	const sentAt: number[] = [];
	testScheduler(t).run(({hot, expectObservable}) => {
		const request$ = withRetransmits(() => sentAt.push(asyncScheduler.now()), hot<string>(''), {
			baseMs: 15_000,
			maxRetransmits: 2,
		});
		expectObservable(messageOnError(request$)).toBe('105s (e|)', {
			e: 'error: no reply to 3 transmissions over 105 s',
		});
	});
	t.deepEqual(sentAt, [0, 15_000, 45_000]);
});

test('the schedule scales with its base, as the tests shorten it', (t) => {
	const sentAt: number[] = [];
	testScheduler(t).run(({hot, expectObservable}) => {
		const request$ = withRetransmits(() => sentAt.push(asyncScheduler.now()), hot<string>(''), {
			baseMs: 100,
			maxRetransmits: 3,
		});
		expectObservable(messageOnError(request$)).toBe('1500ms (e|)', {
			e: 'error: no reply to 4 transmissions over 1.5 s',
		});
	});
	t.deepEqual(sentAt, [0, 100, 300, 700]);
});

test('a reply in time means a single transmission', (t) => {
	const sentAt: number[] = [];
	testScheduler(t).run(({hot, expectObservable}) => {
		const request$ = withRetransmits(() => sentAt.push(asyncScheduler.now()), hot('3s r 2s s'), {
			baseMs: 15_000,
			maxRetransmits: 2,
		});
		expectObservable(request$).toBe('3s (r|)');
	});
	t.deepEqual(sentAt, [0]);
});

test('a failing socket is not retried: its error ends the request at once', (t) => {
	const sentAt: number[] = [];
	testScheduler(t).run(({hot, expectObservable}) => {
		const request$ = withRetransmits(
			() => sentAt.push(asyncScheduler.now()),
			hot<string>('5ms #', {}, new Error('EPERM')),
			{
				baseMs: 15_000,
				maxRetransmits: 2,
			},
		);
		expectObservable(messageOnError(request$)).toBe('5ms (e|)', {e: 'error: EPERM'});
	});
	t.deepEqual(sentAt, [0]);
});
