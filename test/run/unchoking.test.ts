import test from 'ava';
import {NEVER} from 'rxjs';
import {unchoking} from '../../source/run/unchoking.js';
import type {PeerStats} from '../../source/swarm/swarm-context.js';
import {testScheduler} from '../helpers/marbles.js';

const stats = (overrides: Partial<PeerStats>): PeerStats => ({
	interested: true,
	uploaded: 0,
	unreported: 0,
	downloaded: 0,
	snubbed: false,
	...overrides,
});

test('leeching, the regular slot goes to the peer that gives us most and does not snub us; seeding, to the one that takes most, snubbing or not', (t) => {
	const peers = new Map<string, PeerStats>([
		['a', stats({snubbed: true})],
		['b', stats({})],
		['c', stats({})],
	]);
	const add = (peer: string, bytes: Partial<Pick<PeerStats, 'downloaded' | 'uploaded'>>) => {
		const entry = peers.get(peer);
		if (entry) {
			entry.downloaded += bytes.downloaded ?? 0;
			entry.uploaded += bytes.uploaded ?? 0;
		}
	};

	const picker = {complete: false};
	// The optimistic unchoke is the choker's random pick: the first candidate, later the last.
	let pick = 0;
	const random = Math.random;
	Math.random = () => pick;
	t.teardown(() => {
		Math.random = random;
	});
	const decisions: string[] = [];
	testScheduler(t).run(({hot, flush}) => {
		const unchoked$ = unchoking(picker, peers, NEVER, {uploadSlots: 1, chokeRoundMs: 10});
		const subscription = unchoked$.subscribe((set) => decisions.push([...set].sort().join('')));
		hot('-----a----------c---------d---------x').subscribe((step) => {
			if (step === 'a') {
				// The round to 10: the snubbing `a` gives most, then `c`, then `b`.
				add('a', {downloaded: 900});
				add('c', {downloaded: 400});
				add('b', {downloaded: 100});
			} else if (step === 'c') {
				picker.complete = true;
			} else if (step === 'd') {
				// The round to 30, seeding: `a` takes most, then `c`; `b` still gives (it ranks no more).
				add('a', {uploaded: 50});
				add('c', {uploaded: 10});
				add('b', {downloaded: 100});
				pick = 0.99;
			} else {
				subscription.unsubscribe();
			}
		});
		flush();
	});
	t.deepEqual(decisions, [
		// No rates yet: the first that does not snub us, `b`; `a` optimistic.
		'ab',
		// `c`, which gave most of those that do not snub us; `a` still optimistic.
		'ac',
		// The first seeding round measures what we sent against what we had received: `b` comes first.
		'ab',
		// `a` took most; the optimistic slot moves on (every third round) to `c`.
		'ac',
	]);
});

test('shared and replayed: a peer that connects mid-round learns the current set at once; one choker for all', (t) => {
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const peers = new Map([['a', stats({})]]);
		const nudge$ = hot<void>('-');
		const unchoked$ = unchoking({complete: false}, peers, nudge$, {uploadSlots: 4, chokeRoundMs: 10});
		const a = new Set(['a']);
		expectObservable(unchoked$, '^ 12ms !').toBe('a 9ms a', {a});
		expectObservable(unchoked$, '---^ 9ms !').toBe('---a 6ms a', {a});
		// One choker for both, let go of when the last of them leaves.
		expectSubscriptions(nudge$.subscriptions).toBe('^ 12ms !');
	});
});
