import {dematerialize, materialize, type Observable, switchMap} from 'rxjs';

/**
 * Runs `use` with the resource that `resource$` emits, and completes when `use` completes.
 * Resource Observables (open files, a listening socket) never complete on their own: they
 * emit the resource and release it on unsubscribe. Completion travels as a notification so
 * that the resource is released exactly when its user is done, or fails, or is cancelled.
 */
export function withResource<R, T>(
	resource$: Observable<R>,
	use: (resource: R) => Observable<T>,
): Observable<T> {
	return resource$.pipe(
		switchMap((resource) => use(resource).pipe(materialize())),
		dematerialize(),
	);
}
