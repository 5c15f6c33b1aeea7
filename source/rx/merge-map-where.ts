import {Observable, type OperatorFunction, type Subscription} from 'rxjs';

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
			const inners = new Set<Subscription>();
			let sourceDone = false;
			const completeWhenDone = () => {
				if (sourceDone && inners.size === 0) {
					subscriber.complete();
				}
			};

			const outer = source.subscribe({
				next(value) {
					if (!needsInner(value)) {
						subscriber.next(value as Exclude<T, S>);
						return;
					}

					let inner$: Observable<R>;
					try {
						inner$ = project(value);
					} catch (error) {
						subscriber.error(error);
						return;
					}

					let finished = false;
					let inner: Subscription | undefined;
					inner = inner$.subscribe({
						next: (result) => subscriber.next(result),
						error: (error: unknown) => subscriber.error(error),
						complete() {
							finished = true;
							if (inner) {
								inners.delete(inner);
							}

							completeWhenDone();
						},
					});
					// An inner stream that completed while subscribing is already done with.
					if (!finished) {
						inners.add(inner);
					}
				},
				error: (error: unknown) => subscriber.error(error),
				complete() {
					sourceDone = true;
					completeWhenDone();
				},
			});
			return () => {
				outer.unsubscribe();
				for (const inner of inners) {
					inner.unsubscribe();
				}
			};
		});
}
