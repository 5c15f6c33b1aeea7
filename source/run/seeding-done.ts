import {asapScheduler, NEVER, type Observable, observeOn, race, switchMap, take, timer} from 'rxjs';

/** When to stop once every piece is in; absent: stop at once. */
export type SeedOptions = {
	/** Stop after uploading this many times the torrent's size. */
	ratio?: number;
	/** Stop after seeding this long. */
	timeMs?: number;
};

/** Emits when seeding should stop: once complete, the ratio reached or the time up, whichever comes first. */
export function seedingDone(
	seed: SeedOptions,
	completed$: Observable<void>,
	ratioReached$: Observable<void>,
): Observable<unknown> {
	const limits: Array<Observable<unknown>> = [];
	if (seed.timeMs !== undefined) {
		limits.push(timer(seed.timeMs));
	}

	if (seed.ratio !== undefined) {
		// A turn later, so that the event which crossed the ratio still reaches the subscribers.
		limits.push(ratioReached$.pipe(observeOn(asapScheduler)));
	}

	// A ratio reached while still downloading counts from the moment the download completes.
	return completed$.pipe(
		take(1),
		switchMap(() => (limits.length > 0 ? race(limits) : NEVER)),
	);
}
