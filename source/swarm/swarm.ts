import {
	BehaviorSubject,
	defer,
	EMPTY,
	finalize,
	ignoreElements,
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
import {isLocalAddress} from '../peer/address-scope.js';
import type {IncomingPeer} from '../peer/listener.js';
import type {PeerWire} from '../peer/transport.js';
import {peerSession} from '../session/peer-session.js';
import {type AddOptions, type Candidate, CandidatePool} from './candidate-pool.js';
import {dialFromPool} from './dial-from-pool.js';
import {RedialSchedule} from './redials.js';
import type {SwarmContext, SwarmPorts} from './swarm-context.js';

export type SwarmOptions = {
	/** Connections at once, both ways; more addresses wait in line for a free slot. */
	maxPeers: number;
	/** A dialled peer that goes away while we still need pieces is called again after this, doubling each time. */
	redialDelayMs: number;
	/** …at most this many times in a row without a verified piece from it. */
	maxRedials: number;
	/** Our own listening address as trackers report it back to us, never dialled. */
	self?: PeerAddress;
	/** Addresses waiting for a slot, at most (libtorrent's `max_peerlist_size` is 3000). */
	maxCandidates?: number;
};

/**
 * Addresses from one source: a tracker's answer, a magnet link's peers, a PEX message.
 * `allowLocal`: the source is itself on a loopback or private address (a tracker there, LSD) or
 * is the user (`x.pe`), so such addresses from it may be dialled; from anyone else they are not.
 */
export type PeerBatch = {source: PeerSource; peers: PeerAddress[]; allowLocal?: boolean};

export type Swarm = {
	/** Every peer session's events, for as long as it is subscribed. */
	events$: Observable<RunEvent>;
	/** How many peers are connected or connecting, for the announcer's "we are starving" signal. */
	activePeers$: Observable<number>;
	/** The peers we called and reached: the ones PEX may pass on. */
	dialable: () => PeerAddress[];
};

const defaultMaxCandidates = 3000;

/** The host of a peer key (`1.2.3.4:6881`, `[::1]:6881`). */
function hostOf(key: string): string {
	return key.startsWith('[') ? key.slice(1, key.indexOf(']')) : key.slice(0, key.lastIndexOf(':'));
}

/**
 * Turns addresses (from trackers, DHT, LSD, PEX) and accepted connections into peer sessions.
 * Addresses wait in a bounded `CandidatePool`; outgoing sessions run under a `mergeMap`
 * concurrency limit over cheap tokens, one per waiting address, and each session takes its
 * address from the pool only when its slot is free, so the most promising one goes first
 * whenever it arrived. An incoming one is taken only while a slot is free. An address already
 * waiting or connected is not dialled twice; a banned one, or one that answered with our own
 * peer id, never again. A dialled peer that leaves while we still need pieces is called again
 * with a growing delay (trackers may not be asked again for many minutes), until it has failed
 * `maxRedials` times in a row without giving us a verified piece.
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
		const selfKey = options.self ? peerKey(options.self) : undefined;
		const pool = new CandidatePool(
			options.maxCandidates ?? defaultMaxCandidates,
			(key) => key === selfKey || context.reputation.isBanned(key) || context.reputation.isOurs(key),
		);
		const dialer = dialFromPool(pool, options.maxPeers, (candidate) => dialed(candidate));
		const offer: Offer = (peers, source, add) => {
			const added = pool.add(peers, source, add);
			dialer.refill();
			return added;
		};

		const session = countedSession({pool, offer, activePeers$}, ports, context);
		const redials = new RedialSchedule(options.redialDelayMs, options.maxRedials);
		const left$ = new Subject<Departure>();
		function dialed({key, address, source}: Candidate): Observable<RunEvent> {
			let wasConnected = false;
			return session(key, ports.connect(address), source).pipe(
				tap((event) => {
					if (event.type === 'piece-verified') {
						redials.delivered(key);
					} else if (event.type === 'peer-connected') {
						wasConnected = true;
						reached.set(key, address);
					}
				}),
				finalize(() => {
					reached.delete(key);
					left$.next({source, address, wasConnected});
				}),
			);
		}

		const found$ = addresses$.pipe(
			tap(({source, peers, allowLocal}) => {
				offer(peers, source, {allowLocal: allowLocal === true});
			}),
		);
		const accepted$ = incoming$.pipe(
			mergeMap((incoming) => {
				const key = peerKey(incoming.address);
				if (activePeers$.value >= options.maxPeers || context.reputation.isBanned(key) || !pool.claim(key)) {
					incoming.refuse();
					return EMPTY;
				}

				return session(key, incoming.wire$, 'incoming');
			}),
		);
		const redial$ = left$.pipe(mergeMap((departure) => redialLater(departure, redials, offer, context)));
		return merge(dialer.sessions$, accepted$, merge(found$, redial$).pipe(ignoreElements()));
	});
	return {events$, activePeers$, dialable: () => [...reached.values()]};
}

/** Puts addresses in the pool (and wakes the dialer); returns the ones taken. */
type Offer = (peers: readonly PeerAddress[], source: PeerSource, add: AddOptions) => PeerAddress[];

/** A dialled peer that went away. */
type Departure = {source: PeerSource; address: PeerAddress; wasConnected: boolean};

/**
 * A peer session counted among the active peers while it runs, its address released from the
 * pool when it ends, and the addresses its PEX messages name offered to the pool.
 */
function countedSession(
	swarmState: {pool: CandidatePool; offer: Offer; activePeers$: BehaviorSubject<number>},
	ports: SwarmPorts,
	context: SwarmContext,
): (key: string, wire$: Observable<PeerWire>, source: PeerSource) => Observable<RunEvent> {
	const {pool, offer, activePeers$} = swarmState;
	return (key, wire$, source) =>
		defer(() => {
			activePeers$.next(activePeers$.value + 1);
			return peerSession(key, wire$, ports, context, source);
		}).pipe(
			map((event) => {
				if (event.type !== 'peers-found') {
					return event;
				}

				// BEP 11 PEX: the sender's word, taken on its own terms (a peer on our network may name others on it).
				const peers = offer(event.peers, event.source, {allowLocal: isLocalAddress(hostOf(event.from))});
				return {...event, peers, count: event.count ?? event.peers.length};
			}),
			finalize(() => {
				pool.release(key);
				activePeers$.next(activePeers$.value - 1);
			}),
		);
}

/** Offers a departed peer's address again after its redial delay, unless it is not wanted any more. */
function redialLater(
	{source, address, wasConnected}: Departure,
	redials: RedialSchedule,
	offer: Offer,
	context: SwarmContext,
): Observable<never> {
	const key = peerKey(address);
	const delayMs = redials.left(key);
	if (delayMs === undefined || context.shared.picker.complete || context.reputation.isBanned(key)) {
		return EMPTY;
	}

	return timer(delayMs, context.settings.scheduler).pipe(
		// It was dialable once; one we reached goes ahead of the addresses never tried.
		tap(() => offer([address], source, {allowLocal: true, returning: wasConnected})),
		ignoreElements(),
	);
}
