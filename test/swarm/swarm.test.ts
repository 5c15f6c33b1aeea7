import test from 'ava';
import {ignoreElements, NEVER, type Observable, of} from 'rxjs';
import {type PeerAddress, peerKey} from '../../source/codec/compact-peers.js';
import {encodeHandshake} from '../../source/codec/handshake.js';
import type {ConnectPort} from '../../source/peer/transport.js';
import {PeerReputation} from '../../source/swarm/reputation.js';
import {type PeerBatch, swarm} from '../../source/swarm/swarm.js';
import type {SwarmPorts} from '../../source/swarm/swarm-context.js';
import {makeTorrent, memoryStore} from '../helpers/fake-peer.js';
import {testScheduler} from '../helpers/marbles.js';
import {swarmContext, verifierFor} from '../helpers/swarm-context.js';

type SubscriptionLog = {subscribedFrame: number; unsubscribedFrame: number};

const torrent = makeTorrent(32 * 1024, 32 * 1024);
const address = (n: number): PeerAddress => ({host: `127.0.0.${n}`, port: 6881});

/** The swarm's ports dialling with `connect`; nothing is ever read back to be sent. */
const portsFor = (connect: ConnectPort): SwarmPorts => ({
	connect,
	verifyPiece: verifierFor(torrent),
	store: memoryStore(32 * 1024, 32 * 1024),
	readBlock: () => NEVER,
});

const context = () => {
	const reputation = new PeerReputation(3);
	reputation.ban(peerKey(address(9)));
	return swarmContext(torrent, {reputation});
};

test('connects to at most maxPeers at once; a lost peer frees its slot; known and banned peers are not dialled twice', (t) => {
	testScheduler(t).run(({cold, hot, expectObservable, expectSubscriptions}) => {
		// Each peer's "socket" closes without a handshake after a while.
		const sockets = new Map<string, Observable<Buffer> & {subscriptions: SubscriptionLog[]}>([
			[peerKey(address(1)), cold<Buffer>('-----|')],
			[peerKey(address(2)), cold<Buffer>('------------|')],
			[peerKey(address(3)), cold<Buffer>('-----|')],
		]);
		// A wire whose incoming bytes are the peer's cold "socket", and whose sends go nowhere.
		const connect: ConnectPort = (peer) =>
			of({incoming$: sockets.get(peerKey(peer)) ?? cold<Buffer>('#'), send: () => true, drained$: NEVER});
		const peers$ = hot<PeerBatch>('a-b-----------c', {
			a: {source: 'tracker', peers: [address(1), address(2), address(3)], allowLocal: true},
			// Already connected, and banned: neither is dialled.
			b: {source: 'tracker', peers: [address(1), address(9)], allowLocal: true},
			// Gone since frame 5: may be dialled again.
			c: {source: 'tracker', peers: [address(1)], allowLocal: true},
		});
		const {events$, activePeers$} = swarm(
			peers$,
			NEVER,
			portsFor(connect),
			context(),
			// No redials: this test is about the slots.
			{maxPeers: 2, redialDelayMs: 1000, maxRedials: 0},
		);
		expectObservable(activePeers$, '^ 30ms !').toBe('(012)(12)-1-0-1----0', [0, 1, 2]);
		// The events are the subject of other tests; subscribing starts the swarm.
		expectObservable(events$.pipe(ignoreElements()), '^ 30ms !').toBe('');
		expectSubscriptions(sockets.get(peerKey(address(1)))?.subscriptions ?? []).toBe([
			'^----!',
			'--------------^----!',
		]);
		expectSubscriptions(sockets.get(peerKey(address(2)))?.subscriptions ?? []).toBe('^-----------!');
		expectSubscriptions(sockets.get(peerKey(address(3)))?.subscriptions ?? []).toBe('-----^----!');
	});
});

test('a peer that leaves while pieces are still needed is called again, later each time, a bounded number of times', (t) => {
	testScheduler(t).run(({cold, hot, expectObservable, expectSubscriptions}) => {
		const socket = cold<Buffer>('-----|');
		const connect: ConnectPort = () => of({incoming$: socket, send: () => true, drained$: NEVER});
		const {events$} = swarm(
			hot<PeerBatch>('a', {a: {source: 'tracker', peers: [address(1)], allowLocal: true}}),
			NEVER,
			portsFor(connect),
			context(),
			{maxPeers: 2, redialDelayMs: 100, maxRedials: 2},
		);
		expectObservable(events$.pipe(ignoreElements()), '^ 1s !').toBe('');
		// Connected at 0, gone at 5; again 100 ms later (105-110), then 200 ms later (310-315); no more.
		expectSubscriptions(socket.subscriptions).toBe(['^----!', '105ms ^----!', '310ms ^----!']);
	});
});

/** Ports whose every "socket" closes without a handshake `life` frames after it opens. */
const closingPorts = (cold: (marbles: string) => Observable<Buffer>, dialled: string[], life = '-----|') =>
	portsFor((peer) => {
		dialled.push(peerKey(peer));
		return of({incoming$: cold(life), send: () => true, drained$: NEVER});
	});

const publicAddress = (n: number): PeerAddress => ({
	host: `1.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
	port: 6881,
});

test('a tracker naming 120,000 fresh addresses a second fills a bounded pool; an LSD peer found later is dialled next', (t) => {
	const dialled: string[] = [];
	testScheduler(t).run(({cold, hot, expectObservable}) => {
		const flood = (reply: number): PeerBatch => ({
			source: 'tracker',
			peers: Array.from({length: 120_000}, (_, index) => publicAddress(reply * 120_000 + index)),
		});
		const peers$ = hot<PeerBatch>('a-l 997ms b', {
			a: flood(0),
			l: {source: 'lsd', peers: [{host: '192.168.1.20', port: 6881}], allowLocal: true},
			b: flood(1),
		});
		const {events$} = swarm(peers$, NEVER, closingPorts(cold, dialled), context(), {
			maxPeers: 1,
			redialDelayMs: 1000,
			maxRedials: 0,
			maxCandidates: 100,
		});
		expectObservable(events$.pipe(ignoreElements()), '^ 2s !').toBe('');
	});
	t.is(dialled[0], '1.0.0.0:6881');
	t.is(dialled[1], '192.168.1.20:6881');
	// One a 5 ms session for 2 s: 400 dials at most, and never more than a pool and the slot hold per reply.
	t.true(dialled.length <= 2 * (100 + 1) + 1, `${dialled.length} dials`);
});

test('loopback, private and link-local addresses are dialled only from a source allowed them; port 0 never', (t) => {
	const dialled: string[] = [];
	testScheduler(t).run(({cold, hot, expectObservable}) => {
		const local = [
			{host: '127.0.0.1', port: 22},
			{host: '192.168.1.1', port: 80},
			{host: '169.254.0.1', port: 6881},
			{host: '::1', port: 6881},
		];
		const peers$ = hot<PeerBatch>('a-b', {
			a: {source: 'tracker', peers: [...local, {host: '1.2.3.4', port: 0}, publicAddress(7)]},
			b: {
				source: 'tracker',
				peers: [
					{host: '10.0.0.1', port: 6881},
					{host: '10.0.0.2', port: 0},
				],
				allowLocal: true,
			},
		});
		const {events$} = swarm(peers$, NEVER, closingPorts(cold, dialled), context(), {
			maxPeers: 10,
			redialDelayMs: 1000,
			maxRedials: 0,
		});
		expectObservable(events$.pipe(ignoreElements()), '^ 100ms !').toBe('');
	});
	t.deepEqual(dialled, ['1.0.0.7:6881', '10.0.0.1:6881']);
});

test('an address that answers with our own peer id is never dialled again, whoever names it', (t) => {
	const dialled: string[] = [];
	const ours = context();
	testScheduler(t).run(({cold, hot, expectObservable}) => {
		const handshake = encodeHandshake({
			reserved: Buffer.alloc(8),
			infoHash: torrent.infoHash,
			peerId: ours.settings.peerId,
		});
		const peers$ = hot<PeerBatch>('a 99ms b', {
			a: {source: 'tracker', peers: [publicAddress(1)]},
			b: {source: 'dht', peers: [publicAddress(1)]},
		});
		const {events$} = swarm(
			peers$,
			NEVER,
			closingPorts((marbles) => cold(marbles, {h: handshake}), dialled, '-h-|'),
			ours,
			{maxPeers: 10, redialDelayMs: 10, maxRedials: 5},
		);
		expectObservable(events$.pipe(ignoreElements()), '^ 1s !').toBe('');
	});
	t.deepEqual(dialled, ['1.0.0.1:6881']);
});
