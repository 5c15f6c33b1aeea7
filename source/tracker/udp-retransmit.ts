import {
	asyncScheduler,
	catchError,
	defer,
	type Observable,
	of,
	retry,
	type SchedulerLike,
	take,
	throwError,
	timeout,
} from 'rxjs';
import {TrackerError} from '../errors.js';

export type RetransmitOptions = {
	/** BEP 15: wait 15 · 2^n seconds for the reply to transmission n. */
	baseMs: number;
	/**
	 * Transmissions after the first before giving up. BEP 15 goes up to 8 (over an hour); two
	 * (1 min 45 s in all) is enough to move on to the next tracker in the tier.
	 */
	maxRetransmits: number;
	scheduler?: SchedulerLike;
};

/** How long to wait for the reply to transmission `n` (from 0). */
export const replyWaitMs = (n: number, baseMs: number) => baseMs * 2 ** n;

class NoReply extends Error {}

/**
 * One UDP request: `transmit()` sends it, `reply$` carries its replies. The request goes out
 * again each time its wait runs out, the wait doubling each time (BEP 15); after the last wait,
 * a TrackerError. Subscribing sends; the first reply completes it.
 */
export function withRetransmits<T>(
	transmit: () => void,
	reply$: Observable<T>,
	{baseMs, maxRetransmits, scheduler = asyncScheduler}: RetransmitOptions,
): Observable<T> {
	let transmission = 0;
	return defer(() => {
		const wait = replyWaitMs(transmission, baseMs);
		transmission++;
		transmit();
		return reply$.pipe(
			take(1),
			timeout({first: wait, scheduler, with: () => throwError(() => new NoReply())}),
		);
	}).pipe(
		retry({
			count: maxRetransmits,
			delay: (error: unknown) => (error instanceof NoReply ? of(0) : throwError(() => error)),
		}),
		catchError((error: unknown) => {
			if (!(error instanceof NoReply)) {
				return throwError(() => error);
			}

			const total = Array.from({length: transmission}, (_, n) => replyWaitMs(n, baseMs)).reduce(
				(a, b) => a + b,
			);
			return throwError(
				() => new TrackerError(`no reply to ${transmission} transmissions over ${total / 1000} s`),
			);
		}),
	);
}
