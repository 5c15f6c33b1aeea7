import {
	EMPTY,
	identity,
	merge,
	type Observable,
	of,
	ReplaySubject,
	type Subject,
	takeUntil,
	takeWhile,
	tap,
} from 'rxjs';
import type {RunEvent} from '../events/events.js';
import {mergeMapWhere} from '../rx/merge-map-where.js';
import {type SeedOptions, seedingDone} from './seeding-done.js';

/** The streams a run is made of, before it knows when to end. */
export type RunStreams = {
	/** The tracker loop: without seeding it ends by itself after `completed`; seeding, it is cut off. */
	tracker$: Observable<RunEvent>;
	/** Every peer session's events. */
	swarm$: Observable<RunEvent>;
	/** `no-peers` while downloading; not wanted once complete. */
	starving$: Observable<RunEvent>;
};

export type DoneOptions = {
	/** Absent: the run ends once complete. */
	seed?: SeedOptions;
	totalLength: number;
	/** Every piece was on disk at the start: the run is complete at once. */
	completeAtStart: boolean;
	/** Payload bytes sent to peers so far, for the seed ratio. */
	uploaded: () => number;
};

/**
 * A run until it is done: `completed` (at once if every piece was there), told once to
 * `completed$`; then, without seeding, the run ends as soon as the tracker has heard it; with
 * seeding, a `seeding` event, and the run (the tracker loop with it, which sends `stopped`)
 * ends when `seedingDone` says so: the seed time, or the upload ratio, counted from completion.
 */
export function untilDone(
	streams: RunStreams,
	completed$: Subject<void>,
	options: DoneOptions,
): Observable<RunEvent> {
	const {seed} = options;
	const alreadyComplete: Observable<RunEvent> = options.completeAtStart
		? of({type: 'completed', bytes: options.totalLength})
		: EMPTY;
	// Replayed: a ratio reached before the download completes must still count at completion.
	const seedRatioReached$ = new ReplaySubject<void>(1);
	const run$ = merge(alreadyComplete, streams.swarm$, streams.starving$.pipe(takeUntil(completed$))).pipe(
		tap((event) => {
			if (event.type === 'completed') {
				completed$.next();
				completed$.complete();
			}

			const ratio = seed?.ratio;
			if (ratio !== undefined && options.uploaded() >= ratio * options.totalLength) {
				seedRatioReached$.next();
			}
		}),
		// Every event of the run passes here: only the completion gets an inner stream.
		seed
			? mergeMapWhere(
					(event): event is Extract<RunEvent, {type: 'completed'}> => event.type === 'completed',
					(event): Observable<RunEvent> => of(event, {type: 'seeding'} as const),
				)
			: identity,
	);
	return seed
		? merge(streams.tracker$, run$).pipe(takeUntil(seedingDone(seed, completed$, seedRatioReached$)))
		: merge(streams.tracker$, run$.pipe(takeWhile((event) => event.type !== 'completed', true)));
}
