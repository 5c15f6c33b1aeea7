import {Observable, type Subscription} from 'rxjs';
import {ChainedSubscriber} from './chained-subscriber.js';

/**
 * Runs `use` with the resource that `resource$` emits, and completes when `use` completes.
 * Resource Observables (open files, a listening socket) never complete on their own: they
 * emit the resource and release it on unsubscribe. The resource is released exactly when its
 * user is done, or fails, or is cancelled, and after the user has let go of it. A second
 * resource replaces the first, and its user the first user.
 *
 * Hand-written: every event of a run, and of each peer's session, passes through here, and
 * `switchMap` with `materialize` made a notification object of each.
 */
export function withResource<R, T>(
	resource$: Observable<R>,
	use: (resource: R) => Observable<T>,
): Observable<T> {
	return new Observable<T>((subscriber) => {
		let using: Subscription | undefined;
		const holding = new ChainedSubscriber<R>({
			next(resource) {
				if (subscriber.closed) {
					return;
				}

				using?.unsubscribe();
				const user$ = use(resource);
				const user = new ChainedSubscriber<T>({
					next: (value) => subscriber.next(value),
					error: (error: unknown) => subscriber.error(error),
					complete: () => subscriber.complete(),
				});
				using = user;
				user$.subscribe(user);
			},
			error: (error: unknown) => subscriber.error(error),
			complete() {
				// Without a resource there is nothing to use; with one, the user decides the end.
				if (!using) {
					subscriber.complete();
				}
			},
		});
		// Added before anything is subscribed, so a consumer that lets go mid-way through a
		// synchronous emission stops it; the user lets go first, then the resource is released.
		subscriber.add(() => {
			using?.unsubscribe();
			holding.unsubscribe();
		});
		resource$.subscribe(holding);
	});
}
