import test from 'ava';
import {finalize, map, timer} from 'rxjs';
import {CandidatePool} from '../../source/swarm/candidate-pool.js';
import {dialFromPool} from '../../source/swarm/dial-from-pool.js';
import {testScheduler} from '../helpers/marbles.js';

const address = (port: number) => ({host: '1.2.3.4', port});

test('dials maxPeers at a time, each taking the most promising address when its slot frees', (t) => {
	testScheduler(t).run(({expectObservable}) => {
		const pool = new CandidatePool(100, () => false);
		const dialer = dialFromPool(pool, 2, (candidate) =>
			timer(10).pipe(
				map(() => {
					pool.release(candidate.key);
					return candidate.address.port;
				}),
			),
		);
		pool.add([address(1), address(2), address(3)], 'pex');
		dialer.refill();
		// A tracker's address arrives while the first two are dialled: it goes before the PEX one.
		timer(5).subscribe(() => {
			pool.add([address(4)], 'tracker');
			dialer.refill();
			dialer.end();
		});
		// 1 and 2 first; then the tracker's 4 before the PEX 3, each when a slot frees.
		expectObservable(dialer.sessions$).toBe('10ms (ab) 6ms (cd|)', {a: 1, b: 2, c: 4, d: 3});
	});
});

test('a flood of addresses dials only what the pool kept, not every address offered', (t) => {
	const pool = new CandidatePool(3, () => false);
	let dialled = 0;
	const dialer = dialFromPool(pool, 1, () => {
		dialled++;
		return timer(0);
	});
	testScheduler(t).run(({flush}) => {
		dialer.sessions$.subscribe();
		for (let port = 1; port <= 10_000; port++) {
			pool.add([address(port)], 'tracker');
			dialer.refill();
		}

		dialer.end();
		flush();
	});
	// The pool keeps 3 waiting (newcomers displace the oldest), one is dialled at once: 4 sessions, not 10,000.
	t.is(dialled, 4);
});

test('each session is subscribed when its slot frees and unsubscribed when it ends, or when the dialer is let go of', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const pool = new CandidatePool(100, () => false);
		const sessions = new Map([
			[1, cold('---(a|)', {a: 1})],
			[2, cold('-----b', {b: 2})],
		]);
		const dialer = dialFromPool(pool, 1, (candidate) => {
			const session$ = sessions.get(candidate.address.port);
			if (!session$) {
				throw new Error('no such session');
			}

			return session$.pipe(finalize(() => pool.release(candidate.key)));
		});
		pool.add([address(1), address(2)], 'tracker');
		dialer.refill();
		// One slot: 2 waits for 1 to end, and is still running when the consumer lets go.
		expectObservable(dialer.sessions$, '^------!').toBe('---a----', {a: 1});
		expectSubscriptions(sessions.get(1)?.subscriptions ?? []).toBe('^--!');
		expectSubscriptions(sessions.get(2)?.subscriptions ?? []).toBe('---^---!');
	});
});
