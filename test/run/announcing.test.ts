import test from 'ava';
import {NEVER, type Observable, of} from 'rxjs';
import type {AnnounceResponse} from '../../source/codec/tracker-response.js';
import type {RunEvent} from '../../source/events/events.js';
import {announcing} from '../../source/run/announcing.js';
import type {PeerBatch} from '../../source/swarm/swarm.js';
import type {AnnounceRequest} from '../../source/tracker/announce-request.js';
import {testScheduler} from '../helpers/marbles.js';

const options = {
	peerId: Buffer.from('-RX0001-000000000000'),
	port: 6889,
	numwant: 50,
	trackerTiers: [['http://127.0.0.1/announce'], ['http://tracker.example/announce']],
	announceTimeoutMs: 120_000,
	announceRetryMs: 15_000,
	starvingReannounceMs: 30_000,
	infoHash: Buffer.alloc(20, 1),
	totalLength: 1000,
	seeding: false,
};
const peer = {host: '10.0.0.5', port: 6881};
const tracker = 'http://127.0.0.1/announce';
const sent = (event: 'started' | 'completed'): RunEvent => ({type: 'announce-sent', tracker, event});
/** The tracker's answer: `peer`, and come back in half an hour. */
const answered = (event: 'started' | 'completed'): RunEvent => ({
	type: 'announce-answered',
	tracker,
	event,
	peers: [peer],
	interval: 1800,
});

test('each announce reports what was transferred this run: bytes held at the start are neither `downloaded` nor `left`', (t) => {
	const requests: Array<Pick<AnnounceRequest, 'event' | 'uploaded' | 'downloaded' | 'left'>> = [];
	testScheduler(t).run(({cold, hot, expectObservable}) => {
		let done = 400;
		let uploaded = 0;
		const announce = (_url: string, request: AnnounceRequest): Observable<AnnounceResponse> => {
			requests.push({
				event: request.event,
				uploaded: request.uploaded,
				downloaded: request.downloaded,
				left: request.left,
			});
			return cold('-(a|)', {a: {interval: 1800, peers: [peer]}});
		};

		const completed$ = hot<void>('---x');
		hot('--x').subscribe(() => {
			done = 1000;
			uploaded = 250;
		});
		const {tracker$} = announcing(
			announce,
			undefined,
			{uploaded: () => uploaded, doneBytes: () => done},
			{completed$, activePeers$: NEVER},
			options,
		);
		expectObservable(
			tracker$.pipe((events$) => events$),
			'^-----!',
		).toBe('ab-c(d|)', {
			a: sent('started'),
			b: answered('started'),
			c: sent('completed'),
			d: answered('completed'),
		} satisfies Record<string, RunEvent>);
	});
	t.deepEqual(requests, [
		{event: 'started', uploaded: 0, downloaded: 0, left: 600},
		{event: 'completed', uploaded: 250, downloaded: 600, left: 0},
		{event: 'stopped', uploaded: 250, downloaded: 600, left: 0},
	]);
});

test('the swarm’s addresses: the peers each answer names, local ones allowed from a local tracker only, then the other sources', (t) => {
	testScheduler(t).run(({cold, hot, expectObservable}) => {
		// The first tracker fails; the second, a public one, answers.
		const announce = (url: string): Observable<AnnounceResponse> =>
			url.includes('127.0.0.1') ? cold('-#') : cold('-(a|)', {a: {interval: 1800, peers: [peer]}});
		const morePeers$ = hot<PeerBatch>('-----m', {m: {source: 'magnet', peers: [peer], allowLocal: true}});
		const {addresses$} = announcing(
			announce,
			morePeers$,
			{uploaded: () => 0, doneBytes: () => 0},
			{completed$: NEVER, activePeers$: of(1)},
			options,
		);
		expectObservable(addresses$, '^------!').toBe('--t--m', {
			t: {source: 'tracker', peers: [peer], allowLocal: false},
			m: {source: 'magnet', peers: [peer], allowLocal: true},
		});
	});
});

test('one tracker loop for the events and the addresses: subscribing both announces once', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const answer = cold<AnnounceResponse>('-(a|)', {a: {interval: 1800, peers: [peer]}});
		const {tracker$, addresses$} = announcing(
			() => answer,
			undefined,
			{uploaded: () => 0, doneBytes: () => 0},
			{completed$: NEVER, activePeers$: of(1)},
			{...options, trackerTiers: [['http://127.0.0.1/announce']]},
		);
		// The events first, as the run subscribes them: the swarm joins the loop they started.
		expectObservable(tracker$, '^--!').toBe('ab', {
			a: sent('started'),
			b: answered('started'),
		});
		expectObservable(addresses$, '^--!').toBe('-t', {
			t: {source: 'tracker', peers: [peer], allowLocal: true},
		});
		// The answer once, then the `stopped` sent on the way out.
		expectSubscriptions(answer.subscriptions).toBe(['^!', '---^!']);
	});
});
