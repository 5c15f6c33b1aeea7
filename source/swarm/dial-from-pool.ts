import {defer, EMPTY, merge, mergeMap, type Observable, Subject} from 'rxjs';
import type {Candidate, CandidatePool} from './candidate-pool.js';

export type PoolDialer<T> = {
	/** Every session's output, `maxPeers` at a time. */
	sessions$: Observable<T>;
	/** After addresses joined the pool: one token for each address now waiting. */
	refill(): void;
	/** No more addresses will come: `sessions$` completes once the last session has. */
	end(): void;
};

/**
 * Dials the pool's candidates under a `mergeMap` concurrency limit without queueing addresses in
 * front of it (STYLE.md: a mergeMap limit is not back-pressure). What waits is one cheap token
 * per waiting address, never more, and each session takes its address from the pool only when a
 * slot is free, so the most promising address of that moment goes first.
 */
export function dialFromPool<T>(
	pool: CandidatePool,
	maxPeers: number,
	dial: (candidate: Candidate) => Observable<T>,
): PoolDialer<T> {
	const tokens$ = new Subject<void>();
	let tokens = 0;
	// A token counts only once someone takes it: addresses added before the subscription get
	// theirs when it comes.
	const refill = () => {
		while (tokens$.observed && tokens < pool.waiting) {
			tokens++;
			tokens$.next();
		}
	};

	return {
		sessions$: merge(
			tokens$,
			defer(() => {
				refill();
				return EMPTY;
			}),
		).pipe(
			mergeMap(
				() =>
					defer(() => {
						tokens--;
						const candidate = pool.take();
						return candidate ? dial(candidate) : EMPTY;
					}),
				maxPeers,
			),
		),
		refill,
		end() {
			tokens$.complete();
		},
	};
}
