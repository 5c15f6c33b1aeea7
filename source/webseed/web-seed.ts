import {
	asyncScheduler,
	catchError,
	concat,
	defer,
	EMPTY,
	finalize,
	ignoreElements,
	merge,
	mergeMap,
	type Observable,
	of,
	range,
	repeat,
	type SchedulerLike,
	take,
	tap,
	timer,
} from 'rxjs';
import type {Bitfield} from '../codec/bitfield.js';
import {blockLength} from '../codec/messages.js';
import type {PieceProgress} from '../download/piece-progress.js';
import {PieceSignals} from '../download/piece-signals.js';
import {describeError} from '../errors.js';
import type {RunEvent} from '../events/events.js';
import {
	claimRun,
	everything,
	FileMissing,
	fetchRanges,
	releaseRun,
	type WebSeedContext,
	type WebSeedPort,
} from './seed-runs.js';
import {rangesForBlock, rangesForRun} from './web-seed-ranges.js';

export type {WebSeedContext, WebSeedPort} from './seed-runs.js';

export type WebSeedOptions = {
	/** How many bytes of consecutive pieces one run asks for at most (at least one piece). */
	runBytes: number;
	/**
	 * How many seconds of the seed's measured rate its runs in flight hold together: a slow seed
	 * takes short runs and leaves the rest to the peers, a fast one long runs (up to `runBytes`).
	 */
	runSeconds: number;
	/** Runs in flight at once: each is a request (or one per file it crosses) on a keep-alive connection. */
	runsInFlight: number;
	/** After a failure that may pass, the first wait; it doubles each time. */
	retryDelayMs: number;
	/**
	 * Failures in a row after which the seed is dropped; the runs in flight that fail before the
	 * seed's next try count as one (one outage, not `runsInFlight` of them).
	 */
	maxFailures: number;
	scheduler?: SchedulerLike;
};

const retryable = (error: unknown) => (error as {retryable?: unknown} | undefined)?.retryable === true;

/** What a seed's workers share: the pieces they hold, the failures in a row, whether it is connected or dropped. */
class SeedWorkers {
	readonly inFlight = new Set<PieceProgress>();
	readonly all: Bitfield;
	readonly signals: PieceSignals;
	/** Failures in a row, an outage each (see `maxFailures`). */
	failures = 0;
	/** When the seed is next tried after the last failure counted (scheduler time). */
	retryAt = Number.NEGATIVE_INFINITY;
	connected = false;
	dropped = false;
	/** Endgame blocks asked of this seed, as `piece:block`. */
	readonly #asked = new Set<string>();
	/** The rate one run of the seed goes at, bytes a second (an average weighted to the latest runs); unknown before the first. */
	rate: number | undefined;

	constructor(
		readonly port: WebSeedPort,
		readonly context: WebSeedContext,
		readonly options: WebSeedOptions,
	) {
		this.all = everything(context.picker.pieceCount);
		this.signals = PieceSignals.of(context.picker);
	}

	get ownedBytes(): number {
		let bytes = 0;
		for (const piece of this.inFlight) {
			bytes += piece.length;
		}

		return bytes;
	}

	/** One run, or a wait for work when there is none; nothing once the download is done. */
	oneRun(): Observable<RunEvent> {
		return defer(() => {
			const {picker} = this.context;
			if (picker.complete) {
				return EMPTY;
			}

			const run = claimRun(picker, this.all, this.ownedBytes, this.#runBytes());
			if (run.length === 0) {
				// Never a block of our own runs: asking the seed twice for it helps nobody.
				const duplicate = picker.pickDuplicate(
					this.all,
					(index, block) => this.#asked.has(`${index}:${block}`) || this.#holds(index),
				);
				if (!duplicate && !this.#canStillHelp()) {
					// What is left to fetch lies in files this seed lacks.
					this.dropped = true;
					throw new Error('it has none of the pieces still wanted');
				}

				// Nothing to do now: look again when work comes back (a piece released or failed) or a piece
				// is verified (the last one ends the download).
				return duplicate
					? this.#fetchDuplicate(...duplicate)
					: merge(this.signals.workAvailable$, this.signals.verified$).pipe(take(1), ignoreElements());
			}

			for (const piece of run) {
				this.inFlight.add(piece);
			}

			const started = (this.options.scheduler ?? asyncScheduler).now();
			const first = run[0]?.index ?? 0;
			const ranges = rangesForRun(this.context.layout, first, run.at(-1)?.index ?? first);
			return fetchRanges(this.port, this.context, run, ranges).pipe(
				tap({
					next: () => {
						this.failures = 0;
					},
					complete: () => this.#measured(run, started),
				}),
				finalize(() => {
					releaseRun(picker, run);
					for (const piece of run) {
						this.inFlight.delete(piece);
					}
				}),
			);
		});
	}

	/** Runs one after another until the download is done or the seed dropped; a failure that may pass waits, then goes on. */
	worker(): Observable<RunEvent> {
		const scheduler = this.options.scheduler ?? asyncScheduler;
		return this.oneRun().pipe(
			mergeMap((event) => concat(this.#connectedEvent(), of(event))),
			catchError((error: unknown) => {
				if (error instanceof FileMissing) {
					return this.#fileMissing(error);
				}

				const reason = describeError(error);
				const now = scheduler.now();
				if (retryable(error) && !this.dropped && now < this.retryAt) {
					// Another run in flight failed before the seed's next try and counted the outage: the
					// same outage, asked again with it.
					return this.#retryLater(reason, this.retryAt - now);
				}

				this.failures++;
				if (!retryable(error) || this.failures >= this.options.maxFailures || this.dropped) {
					this.dropped = true;
					throw new Error(reason, {cause: error});
				}

				const retryInMs = this.options.retryDelayMs * 2 ** (this.failures - 1);
				this.retryAt = now + retryInMs;
				return this.#retryLater(reason, retryInMs);
			}),
			// Until the download is done: a run's last event may be the one that completes it, and its
			// `completed` follows, so the worker ends between runs, never inside one.
			repeat({delay: () => (this.context.picker.complete || this.dropped ? EMPTY : of(0))}),
		);
	}

	/**
	 * The seed lacks a file: the pieces that hold its bytes are no longer asked of it, the others
	 * are; a seed left with none of the wanted pieces is dropped.
	 */
	#fileMissing(missing: FileMissing): Observable<RunEvent> {
		const {layout, picker} = this.context;
		const file = layout.files[missing.fileIndex];
		if (file && file.length > 0) {
			const last = Math.floor((file.offset + file.length - 1) / layout.pieceLength);
			for (let index = Math.floor(file.offset / layout.pieceLength); index <= last; index++) {
				this.all.clear(index);
			}
		}

		if (!this.#canStillHelp()) {
			this.dropped = true;
			throw new Error(`${missing.message}; it has none of the other pieces still wanted`, {cause: missing});
		}

		return of<RunEvent>({
			type: 'web-seed-failed',
			seed: this.port.seed,
			reason: `${missing.message}; its other files are still asked of it`,
			retryInMs: 0,
		});
	}

	/**
	 * Whether the seed has a wanted piece not yet done (one being verified counts: it may fail).
	 * A seed with every file can, until the download is complete; only one with a file missing is
	 * looked at piece by piece.
	 */
	#canStillHelp(): boolean {
		const {picker} = this.context;
		if (picker.complete || this.all.complete) {
			return !picker.complete;
		}

		for (let index = 0; index < picker.pieceCount; index++) {
			if (this.all.has(index) && picker.wanted.isWanted(index) && !picker.isDone(index)) {
				return true;
			}
		}

		return false;
	}

	/** Whether piece `index` is in one of this seed's runs. */
	#holds(index: number): boolean {
		for (const piece of this.inFlight) {
			if (piece.index === index) {
				return true;
			}
		}

		return false;
	}

	/**
	 * Endgame: a block of a piece someone else is fetching, asked of the seed too, as a peer in
	 * endgame asks; the first copy in counts, and a seed that is slow costs only this block.
	 */
	#fetchDuplicate(piece: PieceProgress, block: number): Observable<RunEvent> {
		const key = `${piece.index}:${block}`;
		this.#asked.add(key);
		const ranges = rangesForBlock(
			this.context.layout,
			piece.index,
			block * blockLength,
			piece.blockSize(block),
		);
		return fetchRanges(this.port, this.context, [piece], ranges).pipe(
			finalize(() => {
				this.#asked.delete(key);
				piece.unclaimBlock(block);
			}),
		);
	}

	/**
	 * A run's size: `runSeconds` of the rate one run goes at (the runs in flight share the seed,
	 * so together they hold that long of its whole rate), one piece until the rate is known,
	 * `runBytes` at most.
	 */
	#runBytes(): number {
		const {pieceLength} = this.context.layout;
		if (this.rate === undefined) {
			return pieceLength;
		}

		return Math.max(pieceLength, Math.min(this.options.runBytes, this.rate * this.options.runSeconds));
	}

	#measured(run: readonly PieceProgress[], started: number): void {
		const seconds = Math.max(0.001, ((this.options.scheduler ?? asyncScheduler).now() - started) / 1000);
		const bytes = run.reduce((sum, piece) => sum + piece.length, 0);
		const rate = bytes / seconds;
		this.rate = this.rate === undefined ? rate : 0.7 * this.rate + 0.3 * rate;
	}

	#retryLater(reason: string, retryInMs: number): Observable<RunEvent> {
		return concat(
			of<RunEvent>({type: 'web-seed-failed', seed: this.port.seed, reason, retryInMs}),
			timer(retryInMs, this.options.scheduler ?? asyncScheduler).pipe(ignoreElements()),
		);
	}

	#connectedEvent(): Observable<RunEvent> {
		if (this.connected) {
			return EMPTY;
		}

		this.connected = true;
		return of({type: 'web-seed-connected', seed: this.port.seed});
	}
}

/**
 * A web seed (BEP 19) taking part in the download as a peer does: `runsInFlight` workers, each
 * claiming a run of wanted pieces from the picker, fetching it by range requests, and handing
 * each piece it completes to `verify`; idle until the picker has work, done when the download
 * is. A failure that may pass (a reset, a stall, a 5xx) is retried after a doubling delay; one
 * that will not (404, 403, a wrong range, a refused redirect), `maxFailures` in a row, or a ban
 * for bad data drops the seed: `web-seed-failed` without `retryInMs`, and the run goes on with
 * the peers and the other seeds. While it works it counts as a peer sending to us, for the
 * share of the memory budget each may hold.
 */
export function webSeed(
	port: WebSeedPort,
	context: WebSeedContext,
	options: WebSeedOptions,
): Observable<RunEvent> {
	return defer(() => {
		const workers = new SeedWorkers(port, context, options);
		context.picker.peerSending(true);
		return range(0, options.runsInFlight).pipe(
			mergeMap(() => workers.worker()),
			catchError((error: unknown) =>
				of<RunEvent>({type: 'web-seed-failed', seed: port.seed, reason: describeError(error)}),
			),
			finalize(() => context.picker.peerSending(false)),
		);
	});
}
