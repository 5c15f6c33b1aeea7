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
			let queue: Request[] = [];
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

						// Beyond the cap a request is dropped (rejected, with BEP 6), as libtorrent does.
						if (queue.length < options.maxQueuedRequests) {
							queue.push(message);
						} else {
							reject(message);
						}

						// Every reject is owed (BEP 6), but not to a peer that never reads them: they would pile up here.
						if (rejectsWhileFull > options.maxQueuedRequests) {
							throw new PeerProtocolError(
								`asked for more than ${options.maxQueuedRequests} blocks we refused, without reading our answers`,
							);
						}

						pump();
						break;
					case 'cancel': {
						const before = queue.length;
						queue = queue.filter(
							(queued) =>
								queued.index !== message.index ||
								queued.begin !== message.begin ||
								queued.length !== message.length,
						);
						// BEP 6: a cancel is answered, by the block or by a reject.
						if (queue.length < before) {
							reject(message);
						}

						break;
					}
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
						for (const request of queue) {
							reject(request);
						}

						queue = [];
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
