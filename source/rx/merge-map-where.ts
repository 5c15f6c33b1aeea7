import {Observable, type OperatorFunction} from 'rxjs';
import {subscribeChained} from './chained-subscriber.js';

/**
 * `mergeMap` for the values `needsInner` picks out; every other value passes straight through.
 * Written as `mergeMap((value) => picked ? project(value) : of(value))`, each passing value cost
 * an Observable and a subscription of its own: on a torrent of 100,000 small pieces, half of a
 * peer's activity is such values. Inner streams run at once, with no limit, as in `mergeMap`.
 */
export function mergeMapWhere<T, S extends T, R>(
	needsInner: (value: T) => value is S,
	project: (value: S) => Observable<R>,
): OperatorFunction<T, Exclude<T, S> | R> {
	return (source) =>
		new Observable<Exclude<T, S> | R>((subscriber) => {
			let activeInners = 0;
			let sourceDone = false;
			const completeWhenDone = () => {
				if (sourceDone && activeInners === 0) {
					subscriber.complete();
				}
			};

			const forward = (result: R) => subscriber.next(result);
			const fail = (error: unknown) => subscriber.error(error);
			const innerDone = () => {
				activeInners--;
				completeWhenDone();
			};

			// Chained to `subscriber`, the source and every inner stop when the consumer lets go, even
			// mid-way through a synchronous emission; a projection that throws ends the stream.
			subscribeChained(source, subscriber, {
				next(value) {
					if (!needsInner(value)) {
						subscriber.next(value as Exclude<T, S>);
						return;
					}

					const inner$ = project(value);
					activeInners++;
					subscribeChained(inner$, subscriber, {next: forward, error: fail, complete: innerDone});
				},
				error: fail,
				complete() {
					sourceDone = true;
					completeWhenDone();
				},
			});
		});
}
