import {
	asyncScheduler,
	interval,
	Observable,
	type Observer,
	type OperatorFunction,
	type SchedulerLike,
	Subscription,
	take,
} from 'rxjs';
import {encodeMessage, type PeerMessage} from '../codec/messages.js';
import type {RunEvent} from '../events/events.js';
import {subscribeChained} from '../rx/chained-subscriber.js';
import {PeerUploader, type PeerUploaderOptions} from './peer-uploader.js';

export {maxRequestLength, type UploadStats} from './peer-uploader.js';

/** What a serving stage needs: the uploader's own options, and its ports to the socket, the disk and the choker. */
export type ServeOptions = PeerUploaderOptions & {
	peer: string;
	readBlock: (index: number, begin: number, length: number) => Observable<Buffer>;
	/** The block at once when it is in memory, so queued requests go out without a turn each. */
	peekBlock?: (index: number, begin: number, length: number) => Buffer | undefined;
	send: (bytes: Buffer) => boolean;
	drained$: Observable<void>;
	/** The choker's verdict for this peer: true to unchoke. */
	unchoked$: Observable<boolean>;
	/** Called when the peer's interest changes, so the choker can act before its next round. */
	interestChanged: () => void;
	/** Upload is reported as one event per peer per this period, not one per block. */
	reportMs: number;
	scheduler?: SchedulerLike;
};

/**
 * The serving side of a peer session: the peer's interest and requests in, blocks out, read
 * from disk one at a time and written only as fast as the socket drains. A `PeerUploader`
 * decides; this only pumps the messages, the choker's verdicts, drains, reads and the report
 * interval into it and carries its actions out. Requests for pieces we lack, beyond a piece, or
 * over 128 KiB error with `PeerProtocolError`; requests while we choke are dropped, as BEP 3
 * says. Emits `uploaded` events with the bytes sent in each period, and the rest at the end.
 */
export function serveToPeer(options: ServeOptions): OperatorFunction<PeerMessage, RunEvent> {
	const scheduler = options.scheduler ?? asyncScheduler;
	return (messages$) =>
		new Observable<RunEvent>((subscriber) => {
			// Joined to `subscriber` at once: a consumer that lets go stops even a synchronous message source.
			const subscription = new Subscription();
			subscriber.add(subscription);
			/** Set while `readBlock` is being subscribed to: a block it gives at once is returned, not re-entered. */
			let subscribing = false;
			let readAtOnce: Buffer | undefined;
			const reader: Partial<Observer<Buffer>> = {
				next(block) {
					if (subscribing) {
						readAtOnce = block;
					} else {
						uploader.blockRead(block);
					}
				},
				error: (error: unknown) => subscriber.error(error),
			};
			const uploader = new PeerUploader(options, {
				send: (message) => options.send(encodeMessage(message)),
				read(index, begin, length) {
					const block = options.peekBlock?.(index, begin, length);
					if (block) {
						return block;
					}

					subscribing = true;
					const read = options.readBlock(index, begin, length).subscribe(reader);
					subscribing = false;
					subscription.add(read);
					const given = readAtOnce;
					readAtOnce = undefined;
					return given;
				},
				awaitDrain() {
					subscription.add(options.drained$.pipe(take(1)).subscribe(() => uploader.drained()));
				},
				interestChanged: options.interestChanged,
			});

			subscription.add(options.unchoked$.subscribe((unchoked) => uploader.verdict(unchoked)));
			const report = () => {
				const bytes = uploader.report();
				if (bytes > 0) {
					subscriber.next({type: 'uploaded', peer: options.peer, bytes});
				}
			};

			subscription.add(interval(options.reportMs, scheduler).subscribe(report));
			subscribeChained(messages$, subscription, {
				next(message) {
					try {
						uploader.receive(message);
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
