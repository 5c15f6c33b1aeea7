import {Observable} from 'rxjs';

/** Far more than any test needs: a source that is never stopped ends here, so the test fails instead of hanging. */
export const endlessGuard = 100_000;

/**
 * A synchronous source that emits `value(i)` for i = 0, 1, … for as long as its subscriber is
 * open, as in rxjs's own specs; `emitted()` says how many values went out. A stage that
 * subscribes to it with a plain observer never sees the consumer let go, and runs to the guard.
 */
export function endless<T>(value: (i: number) => T): {source$: Observable<T>; emitted: () => number} {
	let count = 0;
	const source$ = new Observable<T>((subscriber) => {
		for (let i = 0; !subscriber.closed && i < endlessGuard; i++) {
			count++;
			subscriber.next(value(i));
		}
	});
	return {source$, emitted: () => count};
}
