import test from 'ava';
import {BehaviorSubject, EMPTY} from 'rxjs';
import {swarmLink} from '../../source/run/swarm-link.js';
import type {Swarm} from '../../source/swarm/swarm.js';
import {testScheduler} from '../helpers/marbles.js';

test('asks the swarm once bound: the peers it reached, its peer count as subscribed then', (t) => {
	const link = swarmLink();
	const counts: number[] = [];
	const activePeers$ = new BehaviorSubject(2);
	const swarm: Swarm = {events$: EMPTY, activePeers$, dialable: () => [{host: '10.0.0.1', port: 6881}]};
	link.bind(swarm);
	t.deepEqual(link.dialable(), [{host: '10.0.0.1', port: 6881}]);
	const subscription = link.activePeers$.subscribe((count) => counts.push(count));
	activePeers$.next(0);
	subscription.unsubscribe();
	t.deepEqual(counts, [2, 0]);
});

test('made before the swarm: asking it before `bind` is a wiring mistake, and so is binding twice', (t) => {
	const link = swarmLink();
	t.throws(() => link.dialable(), {message: /before it is made/});
	let failure: unknown;
	link.activePeers$.subscribe({error: (error: unknown) => (failure = error)});
	t.regex(String(failure), /before it is made/);
	const swarm: Swarm = {events$: EMPTY, activePeers$: EMPTY, dialable: () => []};
	link.bind(swarm);
	t.throws(() => link.bind(swarm), {message: /bound twice/});
});

test("the peer count, taken before the swarm is bound, is the swarm's own stream, subscribed only while the link's is", (t) => {
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const link = swarmLink();
		// Taken before the swarm exists, as the announcer takes it.
		const activePeers$ = link.activePeers$;
		const counts = hot('-a-b-c', {a: 1, b: 2, c: 0});
		link.bind({events$: EMPTY, activePeers$: counts, dialable: () => []});
		expectObservable(activePeers$, '--^--!').toBe('---b', {b: 2});
		expectSubscriptions(counts.subscriptions).toBe('--^--!');
	});
});
