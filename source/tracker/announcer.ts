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
	/**
	 * Whether every piece is in when `completed$` emits: a selection of files finished is not a
	 * download complete, and the tracker hears `completed` only for a whole one (libtorrent sends
	 * it as a seed alone), or it would count a snatch that is not one. Always when absent.
	 */
	whole?: () => boolean;
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
 * What the announcer remembers from one announce to the next, and the decisions made from it;
 * no I/O. The tiers are our own copy: BEP 12 moves a tracker that answers to its tier's front.
 */
class AnnounceState {
	readonly tiers: string[][];
	trackerId: string | undefined;
	/** Some tracker has answered us: on teardown, it is told `stopped`. */
	trackerKnowsUs = false;
	/** The event the next regular announce carries: `started` until a tracker has answered. */
	nextEvent: AnnounceEvent | undefined = 'started';
	intervalMs = 0;
	minIntervalMs: number;
	/** Regular cycles in a row in which no tracker answered. */
	failures = 0;
	lastAnnounceAt = Number.NEGATIVE_INFINITY;
	/** The tracker that answered last: `completed` and `stopped` go to it first. */
	lastAnswered: string | undefined;

	constructor(
		tiers: string[][],
		readonly defaultMinIntervalMs: number,
	) {
		this.tiers = tiers.map((tier) => [...tier]);
		this.minIntervalMs = defaultMinIntervalMs;
	}

	/** The announce to send now to one tracker, with what the trackers told us before. */
	request(base: Omit<AnnounceRequest, 'event' | 'trackerId'>, event: AnnounceEvent | undefined, now: number) {
		this.lastAnnounceAt = now;
		const trackerId = this.trackerId;
		return {...base, ...(event ? {event} : {}), ...(trackerId ? {trackerId} : {})};
	}

	/** Takes in `url`'s answer: its tracker id and intervals, bounded, count from now on. */
	answered(url: string, response: AnnounceResponse): void {
		this.trackerId = response.trackerId ?? this.trackerId;
		// Capped: a timer beyond 2^31 ms fires at once, and a day is long enough for any tracker.
		this.intervalMs = Math.min(Math.max(response.interval * 1000, minRegularIntervalMs), maxIntervalMs);
		this.lastAnswered = url;
		// Floored: a `min interval` of 0 with no peers would have us announce in a busy loop.
		this.minIntervalMs = Math.max(
			minHungryIntervalMs,
			response.minInterval === undefined ? this.defaultMinIntervalMs : response.minInterval * 1000,
		);
	}

	/**
	 * BEP 12: tiers in order, trackers within a tier in order. A run's last words (`completed`,
	 * `stopped`) go first to the tracker that answered last, so dead trackers in earlier tiers do
	 * not hold the exit for their timeouts.
	 */
	candidates(event: AnnounceEvent | undefined): Array<{tier: string[]; url: string}> {
		const inOrder = this.tiers.flatMap((tier) => tier.map((url) => ({tier, url})));
		const lastWords = event === 'completed' || event === 'stopped';
		const preferred = lastWords ? inOrder.filter((candidate) => candidate.url === this.lastAnswered) : [];
		return [...preferred, ...inOrder.filter((candidate) => !preferred.includes(candidate))];
	}

	/** A regular cycle over the tiers ended; `answered` if some tracker answered in it. */
	cycleEnded(answered: boolean): void {
		if (answered) {
			this.failures = 0;
			this.trackerKnowsUs = true;
			this.nextEvent = undefined;
		} else {
			this.failures++;
		}
	}

	/** How long until the next regular announce, and until the soonest one for want of peers. */
	waits(now: number, retryDelayMs: number): {regularMs: number; hungryMs: number} {
		// After failures, back off from the retry delay up to the tracker's interval (or half an hour before any answer).
		const backoffCap = Math.max(this.intervalMs > 0 ? this.intervalMs : maxBackoffMs, retryDelayMs);
		return {
			regularMs:
				this.failures > 0 ? Math.min(retryDelayMs * 2 ** (this.failures - 1), backoffCap) : this.intervalMs,
			hungryMs: Math.max(0, this.lastAnnounceAt + this.minIntervalMs - now),
		};
	}
}

/** What every announce of one announcer shares. */
type Announcing = {
	announce: AnnouncePort;
	options: AnnouncerOptions;
	scheduler: SchedulerLike;
	state: AnnounceState;
};

/** One announce to one tracker: `announce-sent`, then `announce-answered` or an error. */
function announceTo(
	{announce, options, scheduler, state}: Announcing,
	url: string,
	event: AnnounceEvent | undefined,
): Observable<AnnounceEvents> {
	const label = event ?? 'regular';
	return defer(() => {
		const request: AnnounceRequest = state.request(options.request(), event, scheduler.now());
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
					state.answered(url, response);
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
}

/**
 * One announce to the first tracker that answers, in `state.candidates` order; each one that
 * fails is an `announce-failed` event and the next is tried. One that answers moves to its
 * tier's front (BEP 12).
 */
function announceToTiers(
	announcing: Announcing,
	event: AnnounceEvent | undefined,
): Observable<AnnounceEvents> {
	const candidates = announcing.state.candidates(event);
	const tryFrom = (position: number): Observable<AnnounceEvents> => {
		const candidate = candidates[position];
		if (!candidate) {
			return EMPTY;
		}

		return announceTo(announcing, candidate.url, event).pipe(
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
}

/** One regular cycle over the tiers, with the announce event due; its outcome goes to the state. */
function regularCycle(announcing: Announcing): Observable<AnnounceEvents> {
	return defer(() => {
		let answered = false;
		return announceToTiers(announcing, announcing.state.nextEvent).pipe(
			tap({
				next: (answer) => {
					answered ||= answer.type === 'announce-answered';
				},
				// `tap` rather than `finalize`: `repeat` reads the outcome as soon as the cycle completes.
				complete: () => announcing.state.cycleEnded(answered),
			}),
		);
	});
}

/** Emits when the next regular cycle is due: after the interval or back-off, or sooner when starving. */
function waitForNextAnnounce({options, scheduler, state}: Announcing): Observable<unknown> {
	const {regularMs, hungryMs} = state.waits(scheduler.now(), options.retryDelayMs);
	return race(
		timer(regularMs, scheduler),
		timer(hungryMs, scheduler).pipe(
			// A hungry$ that completes must not win the race: that would end the announce loop.
			switchMap(() => concat(options.hungry$, NEVER)),
			filter(Boolean),
			take(1),
		),
	);
}

/**
 * The tracker side of a run as one Observable: `started`, then re-announces at the tracker's
 * `interval` (sooner when starving, never before `min interval`), `completed` once, and on
 * teardown a `stopped` announce that is sent but not waited for (bounded by the same timeout).
 * Failures are events, never errors: a dead tracker must not end the download.
 */
export function announcer(announce: AnnouncePort, options: AnnouncerOptions): Observable<AnnounceEvents> {
	const state = new AnnounceState(options.tiers, options.defaultMinIntervalMs);
	const announcing: Announcing = {announce, options, scheduler: options.scheduler ?? asyncScheduler, state};
	const loop = regularCycle(announcing).pipe(repeat({delay: () => waitForNextAnnounce(announcing)}));
	const completedAnnounce = options.completed$.pipe(
		take(1),
		switchMap(() => {
			if (state.nextEvent === 'started' || options.whole?.() === false) {
				// The tracker never heard from us (the next successful announce says started instead),
				// or we are done with a selection only: `stopped` on the way out says we left.
				return EMPTY;
			}

			return announceToTiers(announcing, 'completed');
		}),
	);

	if (state.tiers.length === 0) {
		return EMPTY;
	}

	const regularAnnounces = options.keepAnnouncing ? loop : loop.pipe(takeUntil(options.completed$));
	return merge(regularAnnounces, completedAnnounce).pipe(
		finalize(() => {
			if (state.trackerKnowsUs) {
				announceToTiers(announcing, 'stopped').subscribe();
			}
		}),
	);
}
