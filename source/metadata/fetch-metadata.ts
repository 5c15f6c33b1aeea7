import {asyncScheduler, defer, finalize, ignoreElements, merge, type Observable, takeWhile, tap} from 'rxjs';
import type {PeerAddress} from '../codec/compact-peers.js';
import type {RunEvent} from '../events/events.js';
import type {ConnectPort} from '../peer/transport.js';
import {BoundedMap, maxRememberedPeers} from '../swarm/bounded-map.js';
import {CandidatePool} from '../swarm/candidate-pool.js';
import {dialFromPool} from '../swarm/dial-from-pool.js';
import {MetadataAssembly} from './metadata-assembly.js';
import type {MetadataFetched} from './metadata-requests.js';
import {type MetadataSessionOptions, metadataSession} from './metadata-session.js';

export type {MetadataFetched} from './metadata-requests.js';

/** A fetch's options: each session's, and how many peers, how often, how many waiting. */
export type MetadataFetchOptions = MetadataSessionOptions & {
	maxPeers: number;
	/**
	 * A peer whose session ended (it failed, or it had nothing) is dialled again if it is named
	 * again this long after: a peer that was not ready is the only one a DHT may find.
	 */
	redialAfterMs?: number;
	/** Addresses waiting for a free slot, at most; more are dropped. */
	maxCandidates?: number;
};

/** As many addresses as the swarm keeps waiting: enough for several trackers' answers. */
const defaultMaxCandidates = 3000;

/** The DHT looks a magnet link up again every 15 s. */
const defaultRedialAfterMs = 15_000;

/**
 * Fetches a torrent's info dictionary from the peers `peers$` names, at most `maxPeers` at
 * once, each peer once at a time (and again only `redialAfterMs` after it was let go). Addresses
 * wait in a bounded `CandidatePool`, as the swarm's do: sessions run under a `mergeMap`
 * concurrency limit over cheap tokens, one per waiting address, each taking its address from
 * the pool only when its slot is free; an address named while the pool is full is dropped.
 * Emits the peers' events and then, once the pieces hash to the info hash, the metadata, and
 * completes (closing every connection). Completes without it if the peers run out first.
 */
export function fetchMetadata(
	peers$: Observable<PeerAddress>,
	connect: ConnectPort,
	options: MetadataFetchOptions,
): Observable<RunEvent | MetadataFetched> {
	return defer(() => {
		const assembly = new MetadataAssembly(options.infoHash);
		const scheduler = options.scheduler ?? asyncScheduler;
		const redialAfterMs = options.redialAfterMs ?? defaultRedialAfterMs;
		// When each peer's last session ended, for as many peers as the swarm remembers: a DHT
		// naming ever new addresses cannot grow it. One forgotten is only dialled again sooner.
		const endedAt = new BoundedMap<string, number>(maxRememberedPeers);
		const pool = new CandidatePool(options.maxCandidates ?? defaultMaxCandidates, (key) => {
			const ended = endedAt.get(key);
			return ended !== undefined && scheduler.now() < ended + redialAfterMs;
		});
		const dialer = dialFromPool(pool, options.maxPeers, (candidate) =>
			metadataSession(candidate.address, connect, assembly, options).pipe(
				finalize(() => {
					endedAt.set(candidate.key, scheduler.now());
					pool.release(candidate.key);
				}),
			),
		);
		const sessions$ = dialer.sessions$;
		const found$ = peers$.pipe(
			tap({
				// Dialability was judged where the address was learnt (a local tracker may name local peers).
				next(address) {
					pool.add([address], 'magnet', {allowLocal: true});
					dialer.refill();
				},
				complete: () => dialer.end(),
			}),
			ignoreElements(),
		);
		return merge(sessions$, found$).pipe(
			// The metadata is the last thing emitted: every session is closed with it.
			takeWhile((event) => event.type !== 'metadata', true),
		);
	});
}
