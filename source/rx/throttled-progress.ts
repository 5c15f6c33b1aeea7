import {
	concat,
	defer,
	map,
	type Observable,
	type ObservableInput,
	type OperatorFunction,
	scan,
	throttleTime,
} from 'rxjs';

/**
 * Counts what the source emits and reports the running count, at most once per `periodMs`: the
 * first at once, the last always (trailing), so a listener sees "n of n" before the end. When
 * the source completes, emits what `done` then gives (read at that moment, so it may report
 * state the source built up). Checking the pieces on disk and hashing a new torrent's payload
 * both report their progress this way; one event per piece would flood the UI.
 */
export function throttledProgress<Progress, Done>(
	periodMs: number,
	progress: (count: number) => Progress,
	done: () => ObservableInput<Done>,
): OperatorFunction<unknown, Progress | Done> {
	return (source): Observable<Progress | Done> =>
		concat(
			source.pipe(
				scan((count) => count + 1, 0),
				throttleTime(periodMs, undefined, {leading: true, trailing: true}),
				map(progress),
			),
			defer(done),
		);
}
