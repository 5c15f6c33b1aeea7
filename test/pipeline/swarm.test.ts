import test from 'ava';
import {ignoreElements, NEVER, type Observable, of} from 'rxjs';
import {type PeerAddress, peerKey} from '../../source/codec/compact-peers.js';
import {hashOnMainThread} from '../../source/hashing/sha1.js';
import type {ConnectPort} from '../../source/peer/socket.js';
import {type PeerBatch, swarm} from '../../source/pipeline/swarm.js';
import {makeTorrent, memoryStore} from '../helpers/fake-peer.js';
import {testScheduler} from '../helpers/marbles.js';
import {swarmContext} from '../helpers/swarm-context.js';

type SubscriptionLog = {subscribedFrame: number; unsubscribedFrame: number};

const torrent = makeTorrent(32 * 1024, 32 * 1024);
const address = (n: number): PeerAddress => ({host: `127.0.0.${n}`, port: 6881});

const context = () => swarmContext(torrent, {banned: new Set([peerKey(address(9))])});

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
			a: {source: 'tracker', peers: [address(1), address(2), address(3)]},
			// Already connected, and banned: neither is dialled.
			b: {source: 'tracker', peers: [address(1), address(9)]},
			// Gone since frame 5: may be dialled again.
			c: {source: 'tracker', peers: [address(1)]},
		});
		const {events$, activePeers$} = swarm(
			peers$,
			NEVER,
			{
				connect,
				hashPiece: hashOnMainThread,
				store: memoryStore(32 * 1024, 32 * 1024),
				readBlock: () => NEVER,
			},
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
			hot<PeerBatch>('a', {a: {source: 'tracker', peers: [address(1)]}}),
			NEVER,
			{
				connect,
				hashPiece: hashOnMainThread,
				store: memoryStore(32 * 1024, 32 * 1024),
				readBlock: () => NEVER,
			},
			context(),
			{maxPeers: 2, redialDelayMs: 100, maxRedials: 2},
		);
		expectObservable(events$.pipe(ignoreElements()), '^ 1s !').toBe('');
		// Connected at 0, gone at 5; again 100 ms later (105-110), then 200 ms later (310-315); no more.
		expectSubscriptions(socket.subscriptions).toBe(['^----!', '105ms ^----!', '310ms ^----!']);
	});
});
