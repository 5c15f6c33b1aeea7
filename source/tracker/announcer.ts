import {
	asyncScheduler,
	catchError,
	concat,
	defer,
	EMPTY,
	filter,
	finalize,
	merge,
	NEVER,
	type Observable,
	of,
	race,
	repeat,
	type SchedulerLike,
	switchMap,
	take,
	takeUntil,
	tap,
	throwError,
	timeout,
	timer,
} from 'rxjs';
import type {AnnounceResponse} from '../codec/tracker-response.js';
import {describeError, TrackerError} from '../errors.js';
import type {RunEvent} from '../events/events.js';
import type {AnnounceEvent, AnnounceRequest} from './announce-request.js';

/** Sends one announce to one tracker URL (HTTP today; UDP joins through the same port). */
export type AnnouncePort = (trackerUrl: string, request: AnnounceRequest) => Observable<AnnounceResponse>;

export type AnnouncerOptions = {
	/** BEP 12 tiers, already in the order to try (shuffle within tiers before passing them). */
	tiers: string[][];
	/** A snapshot of what we tell the tracker, read at the moment each announce is sent. */
	request: () => Omit<AnnounceRequest, 'event' | 'trackerId'>;
	/** Emits once the download is complete: the next announce carries `event=completed`. */
	completed$: Observable<unknown>;
	/** Keep announcing after `completed` (seeding); otherwise the Observable completes after it. */
	keepAnnouncing: boolean;
	/** The current "we have no peers" state; true lets us re-announce as soon as `min interval` allows. */
	hungry$: Observable<boolean>;
	/** Bound on each announce; a tracker that hangs is a failed tracker. */
	timeoutMs: number;
	/** First wait after every tracker failed; doubles up to the interval. */
	retryDelayMs: number;
	/** Wait when starving and the tracker named no `min interval`. */
	defaultMinIntervalMs: number;
	scheduler?: SchedulerLike;
};

const maxBackoffMs = 30 * 60 * 1000;
/** The soonest we announce again for want of peers, whatever `min interval` says. */
const minHungryIntervalMs = 10_000;
const maxIntervalMs = 24 * 60 * 60 * 1000;
/**
 * The soonest a regular re-announce goes out, whatever `interval` says: a tracker answering
 * `interval: 1` would otherwise have us ask (and take in a new peer list) every second.
 * libtorrent's `min_announce_interval` is five minutes; one is enough to bound the rate.
 */
export const minRegularIntervalMs = 60_000;

type AnnounceEvents = Extract<RunEvent, {type: `announce-${string}`}>;

/**
 * The tracker side of a run as one Observable: `started`, then re-announces at the tracker's
 * `interval` (sooner when starving, never before `min interval`), `completed` once, and on
 * teardown a `stopped` announce that is sent but not waited for (bounded by the same timeout).
 * Failures are events, never errors: a dead tracker must not end the download.
 */
export function announcer(announce: AnnouncePort, options: AnnouncerOptions): Observable<AnnounceEvents> {
	const scheduler = options.scheduler ?? asyncScheduler;
	const tiers = options.tiers.map((tier) => [...tier]);
	let trackerId: string | undefined;
	let trackerKnowsUs = false;
	let nextEvent: AnnounceEvent | undefined = 'started';
	let intervalMs = 0;
	let minIntervalMs = options.defaultMinIntervalMs;
	let failures = 0;
	let lastAnnounceAt = Number.NEGATIVE_INFINITY;
	/** The tracker that answered last: `completed` and `stopped` go to it first. */
	let lastAnswered: string | undefined;

	const attempt = (url: string, event: AnnounceEvent | undefined): Observable<AnnounceEvents> => {
		const label = event ?? 'regular';
		return defer(() => {
			lastAnnounceAt = scheduler.now();
			const request: AnnounceRequest = {
				...options.request(),
				...(event ? {event} : {}),
				...(trackerId ? {trackerId} : {}),
			};
			return concat(
				of<AnnounceEvents>({type: 'announce-sent', tracker: url, event: label}),
				announce(url, request).pipe(
					// Said in the failure: RxJS's own 'Timeout has occurred' names neither what nor how long.
					timeout({
						first: options.timeoutMs,
						scheduler,
						with: () => throwError(() => new TrackerError(`no answer within ${options.timeoutMs / 1000} s`)),
					}),
					take(1),
					switchMap((response): Observable<AnnounceEvents> => {
						trackerId = response.trackerId ?? trackerId;
						// Capped: a timer beyond 2^31 ms fires at once, and a day is long enough for any tracker.
						intervalMs = Math.min(Math.max(response.interval * 1000, minRegularIntervalMs), maxIntervalMs);
						lastAnswered = url;
						// Floored: a `min interval` of 0 with no peers would have us announce in a busy loop.
						minIntervalMs = Math.max(
							minHungryIntervalMs,
							response.minInterval === undefined ? options.defaultMinIntervalMs : response.minInterval * 1000,
						);
						return of({
							type: 'announce-answered',
							tracker: url,
							event: label,
							peers: response.peers,
							interval: response.interval,
							...(response.seeders === undefined ? {} : {seeders: response.seeders}),
							...(response.leechers === undefined ? {} : {leechers: response.leechers}),
							...(response.warning === undefined ? {} : {warning: response.warning}),
						});
					}),
				),
			);
		});
	};

	/**
	 * BEP 12: tiers in order, trackers within a tier in order; one that answers moves to its
	 * tier's front. A run's last words (`completed`, `stopped`) go first to the tracker that
	 * answered last, so dead trackers in earlier tiers do not hold the exit for their timeouts.
	 */
	const announceToTiers = (event: AnnounceEvent | undefined): Observable<AnnounceEvents> => {
		const inOrder = tiers.flatMap((tier) => tier.map((url) => ({tier, url})));
		const lastWords = event === 'completed' || event === 'stopped';
		const preferred = lastWords ? inOrder.filter((candidate) => candidate.url === lastAnswered) : [];
		const candidates = [...preferred, ...inOrder.filter((candidate) => !preferred.includes(candidate))];
		const tryFrom = (position: number): Observable<AnnounceEvents> => {
			const candidate = candidates[position];
			if (!candidate) {
				return EMPTY;
			}

			return attempt(candidate.url, event).pipe(
				tap((answer) => {
					if (answer.type === 'announce-answered') {
						candidate.tier.splice(candidate.tier.indexOf(candidate.url), 1);
						candidate.tier.unshift(candidate.url);
					}
				}),
				catchError((error: unknown) =>
					concat(
						of<AnnounceEvents>({
							type: 'announce-failed',
							tracker: candidate.url,
							event: event ?? 'regular',
							reason: describeError(error),
						}),
						tryFrom(position + 1),
					),
				),
			);
		};

		return tryFrom(0);
	};

	const regularCycle = defer(() => {
		let answered = false;
		return announceToTiers(nextEvent).pipe(
			tap({
				next: (answer) => {
					answered ||= answer.type === 'announce-answered';
				},
				// `tap` rather than `finalize`: `repeat` reads the outcome as soon as the cycle completes.
				complete: () => {
					if (answered) {
						failures = 0;
						trackerKnowsUs = true;
						nextEvent = undefined;
					} else {
						failures++;
					}
				},
			}),
		);
	});

	const waitForNextAnnounce = (): Observable<unknown> => {
		// After failures, back off from the retry delay up to the tracker's interval (or half an hour before any answer).
		const backoffCap = Math.max(intervalMs > 0 ? intervalMs : maxBackoffMs, options.retryDelayMs);
		const regularWait =
			failures > 0 ? Math.min(options.retryDelayMs * 2 ** (failures - 1), backoffCap) : intervalMs;
		const earliestHungry = Math.max(0, lastAnnounceAt + minIntervalMs - scheduler.now());
		return race(
			timer(regularWait, scheduler),
			timer(earliestHungry, scheduler).pipe(
				// A hungry$ that completes must not win the race: that would end the announce loop.
				switchMap(() => concat(options.hungry$, NEVER)),
				filter(Boolean),
				take(1),
			),
		);
	};

	const loop = regularCycle.pipe(repeat({delay: waitForNextAnnounce}));
	const completedAnnounce = options.completed$.pipe(
		take(1),
		switchMap(() => {
			if (nextEvent === 'started') {
				// The tracker never heard from us; the next successful announce says started instead.
				return EMPTY;
			}

			return announceToTiers('completed');
		}),
	);

	if (tiers.length === 0) {
		return EMPTY;
	}

	const regularAnnounces = options.keepAnnouncing ? loop : loop.pipe(takeUntil(options.completed$));
	return merge(regularAnnounces, completedAnnounce).pipe(
		finalize(() => {
			if (trackerKnowsUs) {
				announceToTiers('stopped').subscribe();
			}
		}),
	);
}
