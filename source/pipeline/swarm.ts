import {
	BehaviorSubject,
	defer,
	EMPTY,
	filter,
	finalize,
	from,
	map,
	merge,
	mergeMap,
	type Observable,
	Subject,
	tap,
	timer,
} from 'rxjs';
import {type PeerAddress, peerKey} from '../codec/compact-peers.js';
import type {PeerSource, RunEvent} from '../events/events.js';
import type {IncomingPeer} from '../peer/listener.js';
import {peerSession, type SwarmContext, type SwarmPorts} from './peer-session.js';

export type SwarmOptions = {
	/** Connections at once, both ways; more addresses wait in line for a free slot. */
	maxPeers: number;
	/** A dialled peer that goes away while we still need pieces is called again after this, doubling each time. */
	redialDelayMs: number;
	/** …at most this many times in a row without a verified piece from it. */
	maxRedials: number;
	/** Our own listening address as trackers report it back to us, never dialled. */
	self?: PeerAddress;
};

/** Addresses from one source: a tracker's answer, a magnet link's peers, a PEX message. */
export type PeerBatch = {source: PeerSource; peers: PeerAddress[]};

export type Swarm = {
	/** Every peer session's events, for as long as it is subscribed. */
	events$: Observable<RunEvent>;
	/** How many peers are connected or connecting, for the announcer's "we are starving" signal. */
	activePeers$: Observable<number>;
	/** The peers we called and reached: the ones PEX may pass on. */
	dialable: () => PeerAddress[];
};

/**
 * Turns addresses (from trackers, later DHT and PEX) and accepted connections into peer
 * sessions. Outgoing ones run under a `mergeMap` concurrency limit; an incoming one is taken
 * only while a slot is free. An address already queued or connected is not dialled twice; a
 * banned one never again. A dialled peer that leaves while we still need pieces is called
 * again with a growing delay (trackers may not be asked again for many minutes), until it has
 * failed `maxRedials` times in a row without giving us a verified piece.
 */
export function swarm(
	addresses$: Observable<PeerBatch>,
	incoming$: Observable<IncomingPeer>,
	ports: SwarmPorts,
	context: SwarmContext,
	options: SwarmOptions,
): Swarm {
	const activePeers$ = new BehaviorSubject(0);
	const reached = new Map<string, PeerAddress>();
	const events$ = defer(() => {
		// Addresses queued for a slot or connected; the queue holds keys, not sockets.
		const known = new Set<string>();
		const selfKey = options.self ? peerKey(options.self) : undefined;
		// Addresses peers tell us about (PEX) join the ones from the trackers.
		const found$ = new Subject<PeerBatch>();
		const session = (key: string, wire$: Parameters<typeof peerSession>[1], source: PeerSource) =>
			defer(() => {
				activePeers$.next(activePeers$.value + 1);
				return peerSession(key, wire$, ports, context, source);
			}).pipe(
				tap((event) => {
					if (event.type === 'peers-found') {
						found$.next({source: event.source, peers: event.peers});
					}
				}),
				finalize(() => {
					known.delete(key);
					activePeers$.next(activePeers$.value - 1);
				}),
			);

		const redials = new Map<string, number>();
		const left$ = new Subject<{source: PeerSource; address: PeerAddress}>();
		const redial$ = left$.pipe(
			mergeMap(({source, address}) => {
				const key = peerKey(address);
				const attempt = (redials.get(key) ?? 0) + 1;
				redials.set(key, attempt);
				return attempt > options.maxRedials || context.picker.complete || context.banned.has(key)
					? EMPTY
					: timer(options.redialDelayMs * 2 ** (attempt - 1), context.scheduler).pipe(
							map((): PeerBatch => ({source, peers: [address]})),
						);
			}),
		);
		const outgoing$ = merge(addresses$, redial$, found$).pipe(
			mergeMap(({source, peers}) => from(peers.map((address) => ({source, address})))),
			filter(({address}) => {
				const key = peerKey(address);
				return !known.has(key) && !context.banned.has(key) && key !== selfKey;
			}),
			tap(({address}) => known.add(peerKey(address))),
			mergeMap(({source, address}) => {
				const key = peerKey(address);
				return session(key, ports.connect(address), source).pipe(
					tap((event) => {
						if (event.type === 'piece-verified') {
							redials.delete(key);
						} else if (event.type === 'peer-connected') {
							reached.set(key, address);
						}
					}),
					finalize(() => {
						reached.delete(key);
						left$.next({source, address});
					}),
				);
			}, options.maxPeers),
		);
		const accepted$ = incoming$.pipe(
			mergeMap((incoming) => {
				const key = peerKey(incoming.address);
				if (activePeers$.value >= options.maxPeers || context.banned.has(key) || known.has(key)) {
					incoming.refuse();
					return EMPTY;
				}

				known.add(key);
				return session(key, incoming.wire$, 'incoming');
			}),
		);
		return merge(outgoing$, accepted$);
	});
	return {events$, activePeers$, dialable: () => [...reached.values()]};
}
