import {
	BehaviorSubject,
	defer,
	filter,
	finalize,
	from,
	mergeMap,
	type Observable,
	takeWhile,
	tap,
} from 'rxjs';
import {type PeerAddress, peerKey} from '../codec/compact-peers.js';
import type {RunEvent} from '../events/events.js';
import {peerSession, type SwarmContext, type SwarmPorts} from './peer-session.js';

export type SwarmOptions = {
	/** Connections at once; more peers wait in line for a free slot. */
	maxPeers: number;
	/** Our own listening address as trackers report it back to us, never dialled. */
	self?: PeerAddress;
};

export type Swarm = {
	/** Peer events until the download completes, ending with `completed`. */
	events$: Observable<RunEvent>;
	/** How many peers are connected or connecting, for the announcer's "we are starving" signal. */
	activePeers$: Observable<number>;
};

/**
 * Turns batches of peer addresses (from trackers, later DHT and PEX) into peer sessions under a
 * `mergeMap` concurrency limit. An address already queued or connected is not dialled twice; a
 * banned one never again; one that left may come back with the next announce.
 */
export function swarm(
	peers$: Observable<PeerAddress[]>,
	ports: SwarmPorts,
	context: SwarmContext,
	options: SwarmOptions,
): Swarm {
	const activePeers$ = new BehaviorSubject(0);
	const events$ = defer(() => {
		// Addresses queued for a slot or connected; values above the limit are keys, not sockets.
		const known = new Set<string>();
		const selfKey = options.self ? peerKey(options.self) : undefined;
		return peers$.pipe(
			mergeMap((batch) => from(batch)),
			filter((address) => {
				const key = peerKey(address);
				return !known.has(key) && !context.banned.has(key) && key !== selfKey;
			}),
			tap((address) => known.add(peerKey(address))),
			mergeMap(
				(address) =>
					defer(() => {
						activePeers$.next(activePeers$.value + 1);
						return peerSession(address, ports, context);
					}).pipe(
						finalize(() => {
							known.delete(peerKey(address));
							activePeers$.next(activePeers$.value - 1);
						}),
					),
				options.maxPeers,
			),
			takeWhile((event) => event.type !== 'completed', true),
		);
	});
	return {events$, activePeers$};
}
