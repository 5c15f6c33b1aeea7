import test from 'ava';
import {asyncScheduler, map, NEVER, type Observable, Subject} from 'rxjs';
import {type ChokeCandidate, type ChokerOptions, choker} from '../../source/swarm/choker.js';
import {testScheduler} from '../helpers/marbles.js';

/** The connected peers, mutable between rounds; `candidates()` hands the choker a snapshot. */
function swarm(...peers: Array<Partial<ChokeCandidate> & {peer: string}>) {
	const byPeer = new Map<string, ChokeCandidate>(
		peers.map((candidate) => [
			candidate.peer,
			{interested: true, transferred: 0, snubbed: false, ...candidate},
		]),
	);
	const get = (peer: string): ChokeCandidate => {
		const candidate = byPeer.get(peer);
		if (!candidate) {
			throw new Error(`no peer ${peer}`);
		}

		return candidate;
	};

	return {
		candidates: () => [...byPeer.values()].map((candidate) => ({...candidate})),
		transfer(peer: string, bytes: number) {
			get(peer).transferred += bytes;
		},
		set(peer: string, change: Partial<ChokeCandidate>) {
			Object.assign(get(peer), change);
		},
		add(peer: string) {
			byPeer.set(peer, {peer, interested: true, transferred: 0, snubbed: false});
		},
		remove(peer: string) {
			byPeer.delete(peer);
		},
	};
}

/** `random` answering from a script, so the optimistic unchoke is known; counts its draws. */
function scriptedRandom(...draws: number[]) {
	const random = () => {
		random.calls++;
		return draws.shift() ?? 0;
	};

	random.calls = 0;
	return random;
}

/** Runs `change` at virtual time `ms` (between the choker's rounds, never on one). */
const at = (ms: number, change: () => void) => asyncScheduler.schedule(change, ms);

const sorted = map((set: ReadonlySet<string>) => [...set].sort().join(','));

function chokerOf(candidates: () => ChokeCandidate[], overrides: Partial<ChokerOptions>): Observable<string> {
	return choker({
		candidates,
		nudge$: NEVER,
		slots: 2,
		roundMs: 10_000,
		optimisticRounds: 3,
		random: () => 0,
		...overrides,
	}).pipe(sorted);
}

test('at the start unchokes the first interested peers plus a random optimistic one, never an uninterested peer', (t) => {
	const peers = swarm(
		{peer: 'a'},
		{peer: 'b', interested: false, transferred: 9000},
		{peer: 'c'},
		{peer: 'd'},
		{peer: 'e'},
	);
	const random = scriptedRandom(0.5);
	testScheduler(t).run(({expectObservable}) => {
		// Regular slots: a and c (no rates yet); the optimistic one is others[⌊0.5 · 2⌋] of [d, e].
		expectObservable(chokerOf(peers.candidates, {random}), '^ 5000ms !').toBe('x', {x: 'a,c,e'});
	});
	t.is(random.calls, 1);
});

test('each round ranks interested peers by the bytes of the previous round; the optimistic one moves every third round', (t) => {
	const peers = swarm({peer: 'a'}, {peer: 'b'}, {peer: 'c'}, {peer: 'd'}, {peer: 'e'});
	// Draws: c at the start (0 of [c, d, e]), e at 30 s (⌊0.99 · 3⌋), c again at 60 s.
	const random = scriptedRandom(0, 0.99, 0);
	testScheduler(t).run(({expectObservable}) => {
		at(15_000, () => {
			peers.transfer('a', 100);
			peers.transfer('d', 500);
			peers.transfer('e', 300);
		});
		at(25_000, () => {
			peers.transfer('a', 1000);
			peers.transfer('b', 2000);
			// d's total stays the highest, but in this round it sent nothing.
		});
		// Nothing moves after 30 s: every rate is 0 and the candidates' order decides (a, b).
		expectObservable(chokerOf(peers.candidates, {random}), '^ 60000ms !').toBe(
			'x 9999ms x 9999ms y 9999ms z 9999ms z 9999ms z 9999ms x',
			{x: 'a,b,c', y: 'c,d,e', z: 'a,b,e'},
		);
	});
	t.is(random.calls, 3, 'kept between rotations, not drawn again every round');
});

test('the first round already ranks by the bytes transferred since the start', (t) => {
	const peers = swarm({peer: 'a'}, {peer: 'b'}, {peer: 'c'}, {peer: 'd'});
	testScheduler(t).run(({expectObservable}) => {
		at(5000, () => peers.transfer('c', 1000));
		expectObservable(chokerOf(peers.candidates, {slots: 1}), '^ 10000ms !').toBe('x 9999ms y', {
			x: 'a,b',
			y: 'b,c',
		});
	});
});

test('a snubbed peer gets no regular slot however fast it was, until it is no longer snubbed', (t) => {
	const peers = swarm({peer: 'a', snubbed: true}, {peer: 'b'}, {peer: 'c'}, {peer: 'd'});
	testScheduler(t).run(({expectObservable}) => {
		at(5000, () => peers.transfer('a', 1));
		at(15_000, () => {
			peers.transfer('a', 5000);
			peers.transfer('d', 10);
		});
		at(25_000, () => {
			peers.transfer('a', 5000);
			peers.set('a', {snubbed: false});
		});
		// The optimistic draw (0.99 of the others) goes to d at the start; at 20 s d ranks
		// first and b keeps the second slot, so the optimistic one moves to the others' last, c.
		expectObservable(
			chokerOf(peers.candidates, {random: () => 0.99, optimisticRounds: 100}),
			'^ 30000ms !',
		).toBe('x 9999ms x 9999ms y 9999ms z', {x: 'b,c,d', y: 'b,c,d', z: 'a,b,c'});
	});
});

test('the optimistic unchoke stays while interested and is replaced when it loses interest or leaves', (t) => {
	const peers = swarm({peer: 'a'}, {peer: 'b'}, {peer: 'c'}, {peer: 'd'}, {peer: 'e'});
	// c at the start; after c loses interest d (0 of [d, e]); after d leaves e (0.99 of [c, e]).
	const random = scriptedRandom(0, 0, 0.99);
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const nudge$ = hot('1000ms n 1999ms n 6999ms n');
		at(2500, () => peers.set('c', {interested: false}));
		at(9000, () => {
			peers.remove('d');
			peers.set('c', {interested: true});
		});
		// At 1 s nothing changed for the optimistic c: kept. At 3 s c lost interest: d. At 10 s
		// d left: a draw among [c, e]. The round at 10 s comes after the nudge at 10 s.
		expectObservable(chokerOf(peers.candidates, {nudge$, random}), '^ 10000ms !').toBe(
			'x 999ms x 1999ms y 6999ms (zz)',
			{x: 'a,b,c', y: 'a,b,d', z: 'a,b,e'},
		);
		expectSubscriptions(nudge$.subscriptions).toBe('^ 10000ms !');
	});
	t.is(random.calls, 3);
});

test('a nudge re-decides at once: a newly interested peer takes a free slot without waiting for the round', (t) => {
	const peers = swarm({peer: 'a'}, {peer: 'b', interested: false}, {peer: 'c', interested: false});
	testScheduler(t).run(({hot, expectObservable}) => {
		at(2000, () => peers.set('b', {interested: true}));
		at(4000, () => peers.add('f'));
		at(6000, () => peers.set('a', {interested: false}));
		// Only nudges at 3 s and 5 s: the peer that joined at 4 s gets the optimistic slot at
		// 5 s, while a's lost interest at 6 s waits for the round at 10 s.
		const nudge$ = hot('3000ms n 1999ms n');
		expectObservable(chokerOf(peers.candidates, {nudge$, slots: 2}), '^ 10000ms !').toBe(
			'x 2999ms y 1999ms z 4999ms w',
			{x: 'a', y: 'a,b', z: 'a,b,f', w: 'b,f'},
		);
	});
});

test('a new subscription starts afresh and the rounds stop on unsubscribe', (t) => {
	const peers = swarm({peer: 'a'}, {peer: 'b'}, {peer: 'c'});
	let looks = 0;
	const candidates = () => {
		looks++;
		return peers.candidates();
	};

	testScheduler(t).run(({expectObservable}) => {
		const unchoked$ = chokerOf(candidates, {slots: 1, random: () => 0.5});
		expectObservable(unchoked$, '^ 20000ms !').toBe('x 9999ms x 9999ms x', {x: 'a,c'});
		expectObservable(unchoked$, '5000ms ^ 10000ms !').toBe('5000ms x 9999ms x', {x: 'a,c'});
	});
	// 3 decisions for the first subscriber, 2 for the second, none after either unsubscribed.
	t.is(looks, 5);
});

test('a flood of interest changes costs one decision at once and one at the end of each 100 ms, not one each', (t) => {
	const peers = swarm({peer: 'a'}, {peer: 'b', interested: false}, {peer: 'c'});
	let looks = 0;
	const candidates = () => {
		looks++;
		return peers.candidates();
	};

	testScheduler(t).run(({expectObservable}) => {
		const nudge$ = new Subject<void>();
		// A peer toggling interested / not interested as fast as it can send 5-byte messages:
		// each toggle nudges the choker, which ranks every peer and tells every session.
		at(1000, () => {
			for (let toggle = 0; toggle < 10_000; toggle++) {
				peers.set('b', {interested: toggle % 2 === 0});
				nudge$.next();
			}
		});
		expectObservable(chokerOf(candidates, {nudge$, slots: 2}), '^ 5000ms !').toBe('x 999ms y 99ms x', {
			x: 'a,c',
			y: 'a,b,c',
		});
	});
	// The start, the first nudge, and the last one at the end of its 100 ms.
	t.is(looks, 3);
});
