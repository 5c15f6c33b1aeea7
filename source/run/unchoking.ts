import {type Observable, type SchedulerLike, shareReplay} from 'rxjs';
import type {PiecePicker} from '../download/piece-picker.js';
import {choker} from '../swarm/choker.js';
import type {PeerStats} from '../swarm/swarm-context.js';

export type UnchokingOptions = {
	/** Regular unchoke slots; one optimistic unchoke comes on top. */
	uploadSlots: number;
	chokeRoundMs: number;
	scheduler?: SchedulerLike;
};

/** BEP 3: the optimistic unchoke rotates every 30 seconds, three rounds of 10 s. */
const optimisticRounds = 3;

/**
 * The run's choker over its connected peers, shared and replayed so that a peer connecting
 * mid-round learns the current set. While leeching it rewards the peers that give us most and
 * passes over snubbing ones; once complete, the peers that take most.
 */
export function unchoking(
	picker: Pick<PiecePicker, 'complete'>,
	peers: ReadonlyMap<string, PeerStats>,
	nudge$: Observable<void>,
	options: UnchokingOptions,
): Observable<ReadonlySet<string>> {
	return choker({
		candidates: () =>
			[...peers].map(([peer, stats]) => ({
				peer,
				interested: stats.interested,
				transferred: picker.complete ? stats.uploaded : stats.downloaded,
				snubbed: !picker.complete && stats.snubbed,
			})),
		nudge$,
		slots: options.uploadSlots,
		roundMs: options.chokeRoundMs,
		optimisticRounds,
		...(options.scheduler ? {scheduler: options.scheduler} : {}),
	}).pipe(shareReplay({bufferSize: 1, refCount: true}));
}
