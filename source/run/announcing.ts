import {EMPTY, filter, map, merge, type Observable, share} from 'rxjs';
import type {RunEvent} from '../events/events.js';
import {isLocalUrl} from '../peer/address-scope.js';
import type {PeerBatch} from '../swarm/swarm.js';
import {type AnnouncePort, announcer} from '../tracker/announcer.js';
import type {DownloadOptions} from './download-options.js';

/** What of a run's options the announces are made of. */
export type AnnouncingOptions = Pick<
	DownloadOptions,
	| 'peerId'
	| 'port'
	| 'numwant'
	| 'trackerTiers'
	| 'announceTimeoutMs'
	| 'announceRetryMs'
	| 'starvingReannounceMs'
	| 'scheduler'
> & {
	infoHash: Buffer;
	totalLength: number;
	/** Keep announcing once complete: the run seeds. */
	seeding: boolean;
};

/** The counts each announce reports, read as it is sent. */
export type TransferCounts = {
	/** Payload bytes sent to peers this run. */
	uploaded: () => number;
	/** Verified bytes we hold: those held at the start are neither `downloaded` nor `left`. */
	doneBytes: () => number;
	/** Every piece is in (not a selection of files alone); always when absent. */
	whole?: () => boolean;
};

export type Announcing = {
	/** The tracker loop's events; subscribing it announces (`started`, …, `stopped` on the way out). */
	tracker$: Observable<RunEvent>;
	/** The peers the trackers name, then those of `morePeers$`: the swarm's addresses. */
	addresses$: Observable<PeerBatch>;
};

/**
 * The tracker side of a run: one announcer loop, shared between the run's events and the
 * swarm's addresses, which sends `completed` once `completed$` emits and re-announces sooner
 * while `activePeers$` says we have no peers.
 */
export function announcing(
	announce: AnnouncePort,
	morePeers$: Observable<PeerBatch> | undefined,
	counts: TransferCounts,
	signals: {completed$: Observable<void>; activePeers$: Observable<number>},
	options: AnnouncingOptions,
): Announcing {
	const doneAtStart = counts.doneBytes();
	const tracker$ = announcer(announce, {
		tiers: options.trackerTiers,
		request: () => ({
			infoHash: options.infoHash,
			peerId: options.peerId,
			port: options.port,
			uploaded: counts.uploaded(),
			downloaded: counts.doneBytes() - doneAtStart,
			left: options.totalLength - counts.doneBytes(),
			numwant: options.numwant,
		}),
		completed$: signals.completed$,
		...(counts.whole ? {whole: counts.whole} : {}),
		keepAnnouncing: options.seeding,
		hungry$: signals.activePeers$.pipe(map((count) => count === 0)),
		timeoutMs: options.announceTimeoutMs,
		retryDelayMs: options.announceRetryMs,
		defaultMinIntervalMs: options.starvingReannounceMs,
		...(options.scheduler ? {scheduler: options.scheduler} : {}),
	}).pipe(share());
	const addresses$ = merge(
		tracker$.pipe(
			filter((event) => event.type === 'announce-answered'),
			// A tracker on a local address (a test swarm, a home tracker) may name local peers; a public one may not.
			map(
				(event): PeerBatch => ({
					source: 'tracker',
					peers: event.peers,
					allowLocal: isLocalUrl(event.tracker),
				}),
			),
		),
		morePeers$ ?? EMPTY,
	);
	return {tracker$, addresses$};
}
