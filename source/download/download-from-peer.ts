import {asyncScheduler, interval, Observable, type OperatorFunction, type SchedulerLike} from 'rxjs';
import type {PeerMessage} from '../codec/messages.js';
import {subscribeChained} from '../rx/chained-subscriber.js';
import {type PeerActivity, PeerDownloader} from './peer-downloader.js';
import type {PiecePicker} from './piece-picker.js';
import {PieceSignals} from './piece-signals.js';
import type {RequestWindowOptions} from './request-window.js';

export type DownloadFromPeerOptions = {
	peer: string;
	/** Built with `PieceSignals` as its listener: they drive the window between messages. */
	picker: PiecePicker;
	window: RequestWindowOptions;
	/** How often the window is resized and timeouts checked. */
	tickMs: number;
	/** Updated every tick for the choker: bytes received from this peer, and whether it snubs us. */
	stats?: {downloaded: number; snubbed: boolean};
	/** Writes request, interest and keep-alive messages to the peer. */
	send: (messages: PeerMessage[]) => void;
	scheduler?: SchedulerLike;
};

type Received = Exclude<PeerActivity, {type: 'send'}>;

/**
 * The per-peer download stage: the peer's messages in; finished pieces and peer events out.
 * Requests go straight to `send` rather than downstream, so a block costs one emission in and
 * no Observable of its own. Ticks and the picker's "work available" signal drive the window
 * between messages; in endgame, blocks arriving from other peers cancel our copies. On
 * teardown the peer's unfinished pieces return to the pool.
 */
export function downloadFromPeer(options: DownloadFromPeerOptions): OperatorFunction<PeerMessage, Received> {
	const scheduler = options.scheduler ?? asyncScheduler;
	return (messages$) =>
		new Observable<Received>((subscriber) => {
			const signals = PieceSignals.of(options.picker);
			const downloader = new PeerDownloader(options.peer, options.picker, options.window, scheduler.now());
			let lastTick = scheduler.now();
			const deliver = (activity: PeerActivity[]) => {
				for (const item of activity) {
					if (item.type === 'send') {
						options.send(item.messages);
						downloader.sent(scheduler.now());
					} else {
						subscriber.next(item);
					}
				}
			};

			const guarded = (step: () => PeerActivity[]) => {
				try {
					deliver(step());
				} catch (error) {
					subscriber.error(error);
				}
			};

			// Chained: a consumer that lets go stops even a synchronous message source.
			const subscription = subscribeChained(messages$, subscriber, {
				next: (message) => guarded(() => downloader.receive(message, scheduler.now())),
				error: (error: unknown) => subscriber.error(error),
				complete: () => subscriber.complete(),
			});
			subscription.add(
				interval(options.tickMs, scheduler).subscribe(() => {
					const now = scheduler.now();
					guarded(() => downloader.tick(now, now - lastTick));
					lastTick = now;
					if (options.stats) {
						options.stats.downloaded = downloader.downloadedBytes;
						options.stats.snubbed = downloader.snubbed(now);
					}
				}),
			);
			subscription.add(signals.workAvailable$.subscribe(() => guarded(() => downloader.wake())));
			subscription.add(
				signals.verified$.subscribe((index) => guarded(() => downloader.pieceVerified(index))),
			);
			subscription.add(
				signals.blockArrived$.subscribe(({piece, block}) =>
					guarded(() => downloader.blockArrived(piece, block)),
				),
			);
			return () => downloader.close();
		});
}
