import {
	asyncScheduler,
	interval,
	Observable,
	type OperatorFunction,
	type SchedulerLike,
	Subscription,
	take,
} from 'rxjs';
import {encodeMessage, type PeerMessage} from '../codec/messages.js';
import {PeerProtocolError} from '../errors.js';
import type {RunEvent} from '../events/events.js';
import {subscribeChained} from '../rx/chained-subscriber.js';

/** What the serving side of a session knows about its peer; the choker reads it. */
export type UploadStats = {
	/** The peer wants something we have. */
	interested: boolean;
	/** Payload bytes sent to this peer so far. */
	uploaded: number;
	/** Of those, the bytes no `uploaded` event has reported yet (whoever ends the session reports them). */
	unreported: number;
};

export type ServeOptions = {
	peer: string;
	pieceCount: number;
	pieceSize: (index: number) => number;
	/** True for pieces we have verified. */
	have: (index: number) => boolean;
	readBlock: (index: number, begin: number, length: number) => Observable<Buffer>;
	/** The block at once when it is in memory, so queued requests go out without a turn each. */
	peekBlock?: (index: number, begin: number, length: number) => Buffer | undefined;
	send: (bytes: Buffer) => boolean;
	drained$: Observable<void>;
	/** The choker's verdict for this peer: true to unchoke. */
	unchoked$: Observable<boolean>;
	stats: UploadStats;
	/** Payload bytes sent to all peers, counted as they go (announces, the seed ratio). */
	totals: {uploaded: number};
	/** Called when the peer's interest changes, so the choker can act before its next round. */
	interestChanged: () => void;
	/**
	 * BEP 6 was agreed on: every request we will not serve (choked, over the cap, cancelled) is
	 * answered with a reject, since the peer may not take a choke as a reject.
	 */
	fast?: boolean;
	/** Requests queued beyond this are dropped unanswered, so a flood costs us no memory. */
	maxQueuedRequests: number;
	/** Upload is reported as one event per peer per this period, not one per block. */
	reportMs: number;
	scheduler?: SchedulerLike;
};

/** Clients refuse requests above 128 KiB; 16 KiB is what everyone sends. */
export const maxRequestLength = 128 * 1024;

type Request = {index: number; begin: number; length: number};

/**
 * The peer's requests in the order they came, keyed by block: a cancel finds its request in
 * one look-up rather than a scan, so a flood of requests and cancels costs O(1) each. A
 * request's key is its offset in the torrent (`index × pieceLength + begin`, checked to lie
 * inside its piece first), so two requests for the same offset are one block: a repeat is
 * answered by the one block sent for the first.
 */
class RequestQueue {
	/** Arrival order; cancelled requests stay behind as gaps, skipped when reached and compacted away. */
	#order: Request[] = [];
	#head = 0;
	readonly #queued = new Map<number, Request>();

	constructor(readonly pieceLength: number) {}

	get size(): number {
		return this.#queued.size;
	}

	#key(request: Request): number {
		return request.index * this.pieceLength + request.begin;
	}

	/** False when a request for this block is already queued. */
	add(request: Request): boolean {
		const key = this.#key(request);
		if (this.#queued.has(key)) {
			return false;
		}

		this.#queued.set(key, request);
		this.#order.push(request);
		// Gaps left by cancels are dropped once they outnumber the live requests: amortised O(1).
		if (this.#order.length - this.#head > 2 * this.#queued.size + 64) {
			this.#compact();
		}

		return true;
	}

	/** Removes the queued request the cancel names (the same block and length); false if none. */
	cancel(request: Request): boolean {
		const key = this.#key(request);
		const queued = this.#queued.get(key);
		if (queued?.length !== request.length) {
			return false;
		}

		this.#queued.delete(key);
		return true;
	}

	/** The oldest queued request, taken off the queue. */
	shift(): Request | undefined {
		while (this.#head < this.#order.length) {
			const request = this.#order[this.#head++] as Request;
			const key = this.#key(request);
			// A request cancelled (and perhaps asked again later, which queued it anew) is a gap here.
			if (this.#queued.get(key) === request) {
				this.#queued.delete(key);
				if (this.#head > 1024 && this.#head * 2 > this.#order.length) {
					this.#compact();
				}

				return request;
			}
		}

		this.#order = [];
		this.#head = 0;
		return undefined;
	}

	/** Empties the queue, returning what was queued in the order it came. */
	clear(): Iterable<Request> {
		const queued = [...this.#queued.values()];
		this.#queued.clear();
		this.#order = [];
		this.#head = 0;
		return queued;
	}

	#compact(): void {
		const live: Request[] = [];
		for (let position = this.#head; position < this.#order.length; position++) {
			const request = this.#order[position] as Request;
			if (this.#queued.get(this.#key(request)) === request) {
				live.push(request);
			}
		}

		this.#order = live;
		this.#head = 0;
	}
}

/**
 * The serving side of a peer session: the peer's interest and requests in, blocks out, read
 * from disk one at a time and written only as fast as the socket drains. Requests for pieces
 * we lack, beyond a piece, or over 128 KiB are protocol errors; requests while we choke are
 * dropped, as BEP 3 says. Emits `uploaded` events with the bytes sent in each period.
 */
export function serveToPeer(options: ServeOptions): OperatorFunction<PeerMessage, RunEvent> {
	const scheduler = options.scheduler ?? asyncScheduler;
	return (messages$) =>
		new Observable<RunEvent>((subscriber) => {
			let choking = true;
			const queue = new RequestQueue(options.pieceCount > 0 ? options.pieceSize(0) : 0);
			/** Rejects written in a row while the socket was full: a peer that asks and never reads. */
			let rejectsWhileFull = 0;
			const reject = (request: Request) => {
				if (!options.fast) {
					return;
				}

				const rejection = encodeMessage({
					type: 'reject',
					index: request.index,
					begin: request.begin,
					length: request.length,
				});
				rejectsWhileFull = options.send(rejection) ? 0 : rejectsWhileFull + 1;
			};

			let busy = false;
			// Joined to `subscriber` at once: a consumer that lets go stops even a synchronous message source.
			const subscription = new Subscription();
			subscriber.add(subscription);

			/** Sends one block; false when the socket is full and we must wait for it to drain. */
			const sendBlock = (request: Request, block: Buffer): boolean => {
				options.stats.uploaded += block.length;
				options.totals.uploaded += block.length;
				options.stats.unreported += block.length;
				// <len=0009+X><id=7><index><begin><block>
				return options.send(
					encodeMessage({type: 'piece', index: request.index, begin: request.begin, block}),
				);
			};

			const resumeWhenDrained = () => {
				busy = true;
				subscription.add(
					options.drained$.pipe(take(1)).subscribe(() => {
						busy = false;
						pump();
					}),
				);
			};

			const pump = (): void => {
				while (!busy && !choking) {
					const request = queue.shift();
					if (!request) {
						return;
					}

					const block = options.peekBlock?.(request.index, request.begin, request.length);
					if (block) {
						if (!sendBlock(request, block)) {
							resumeWhenDrained();
						}

						continue;
					}

					busy = true;
					subscription.add(
						options.readBlock(request.index, request.begin, request.length).subscribe({
							next(read) {
								busy = false;
								// Choked while reading: the request is void (BEP 3), the block stays here.
								if (choking) {
									reject(request);
									return;
								}

								if (sendBlock(request, read)) {
									pump();
								} else {
									resumeWhenDrained();
								}
							},
							error: (error: unknown) => subscriber.error(error),
						}),
					);
				}
			};

			const validate = (request: Request): void => {
				const {index, begin, length} = request;
				if (index >= options.pieceCount || !options.have(index)) {
					throw new PeerProtocolError(`requested piece ${index}, which we do not have`);
				}

				if (length === 0 || length > maxRequestLength || begin + length > options.pieceSize(index)) {
					throw new PeerProtocolError(
						`request beyond the piece (piece ${index}, offset ${begin}, ${length} bytes)`,
					);
				}
			};

			const receive = (message: PeerMessage): void => {
				switch (message.type) {
					case 'interested':
					case 'not-interested': {
						const interested = message.type === 'interested';
						if (interested !== options.stats.interested) {
							options.stats.interested = interested;
							options.interestChanged();
						}

						break;
					}

					case 'request':
						validate(message);
						if (choking) {
							reject(message);
							break;
						}

						// Beyond the cap a request is dropped (rejected, with BEP 6), as libtorrent does. A
						// repeat of a queued block is answered by that block.
						if (queue.size >= options.maxQueuedRequests) {
							reject(message);
						} else if (!queue.add(message)) {
							break;
						}

						// Every reject is owed (BEP 6), but not to a peer that never reads them: they would pile up here.
						if (rejectsWhileFull > options.maxQueuedRequests) {
							throw new PeerProtocolError(
								`asked for more than ${options.maxQueuedRequests} blocks we refused, without reading our answers`,
							);
						}

						pump();
						break;
					case 'cancel':
						// BEP 6: a cancel is answered, by the block or by a reject.
						if (queue.cancel(message)) {
							reject(message);
						}

						break;
					default:
						break;
				}
			};

			subscription.add(
				options.unchoked$.subscribe((unchoked) => {
					if (unchoked === !choking) {
						return;
					}

					choking = !unchoked;
					options.send(encodeMessage({type: choking ? 'choke' : 'unchoke'}));
					if (choking) {
						// BEP 3: a choke discards every pending request; BEP 6 says so for each.
						for (const request of queue.clear()) {
							reject(request);
						}
					}
				}),
			);
			const report = () => {
				const bytes = options.stats.unreported;
				if (bytes > 0) {
					options.stats.unreported = 0;
					subscriber.next({type: 'uploaded', peer: options.peer, bytes});
				}
			};

			subscription.add(interval(options.reportMs, scheduler).subscribe(report));
			subscribeChained(messages$, subscription, {
				next(message) {
					try {
						receive(message);
					} catch (error) {
						report();
						subscriber.error(error);
					}
				},
				// What was sent since the last report is reported before the session ends.
				error(error: unknown) {
					report();
					subscriber.error(error);
				},
				complete() {
					report();
					subscriber.complete();
				},
			});
		});
}
