import {
	concat,
	defer,
	filter,
	map,
	merge,
	type Observable,
	of,
	pairwise,
	type SchedulerLike,
	Subject,
	share,
	takeUntil,
	takeWhile,
	tap,
} from 'rxjs';
import type {PeerAddress} from '../codec/compact-peers.js';
import type {Metainfo} from '../codec/metainfo.js';
import type {RunEvent} from '../events/events.js';
import type {HashPort} from '../hashing/sha1.js';
import type {ConnectPort} from '../peer/socket.js';
import {useResource} from '../rx/use-resource.js';
import type {PieceStore} from '../storage/disk.js';
import {StorageLayout} from '../storage/layout.js';
import {type AnnouncePort, announcer} from '../tracker/announcer.js';
import type {RequestWindowOptions} from './peer-downloader.js';
import type {SwarmContext} from './peer-session.js';
import {PiecePicker} from './piece-picker.js';
import {swarm} from './swarm.js';

export type DownloadPorts = {
	announce: AnnouncePort;
	connect: ConnectPort;
	hashPiece: HashPort;
	openStore: (layout: StorageLayout) => Observable<PieceStore>;
};

export type DownloadOptions = {
	peerId: Buffer;
	/** The port we tell trackers we listen on. */
	port: number;
	maxPeers: number;
	maxBytesInFlight: number;
	window: RequestWindowOptions;
	tickMs: number;
	handshakeTimeoutMs: number;
	maxStrikes: number;
	announceTimeoutMs: number;
	announceRetryMs: number;
	/** Re-announce when starving after this long, unless the tracker names its own `min interval`. */
	starvingReannounceMs: number;
	numwant: number;
	/** BEP 12 tiers in the order to try them. */
	trackerTiers: string[][];
	scheduler?: SchedulerLike;
};

/**
 * A whole download as one Observable of events: open the files, announce, connect to peers,
 * fetch, verify and write every piece, announce `completed`, complete. Unsubscribing at any
 * point closes every socket and file and sends `stopped` to the tracker.
 */
export function download(
	metainfo: Metainfo,
	ports: DownloadPorts,
	options: DownloadOptions,
): Observable<RunEvent> {
	const layout = new StorageLayout(metainfo.files, metainfo.pieceLength);
	return useResource(ports.openStore(layout), (store) =>
		defer(() => {
			const picker = new PiecePicker((index) => layout.pieceSize(index), layout.pieceCount, {
				maxBytesInFlight: options.maxBytesInFlight,
			});
			const completed$ = new Subject<void>();
			const context: SwarmContext = {
				infoHash: metainfo.infoHash,
				peerId: options.peerId,
				pieceHashes: metainfo.pieceHashes,
				picker,
				window: options.window,
				tickMs: options.tickMs,
				handshakeTimeoutMs: options.handshakeTimeoutMs,
				maxStrikes: options.maxStrikes,
				strikes: new Map(),
				banned: new Set(),
				...(options.scheduler ? {scheduler: options.scheduler} : {}),
			};

			const tracker$ = announcer(ports.announce, {
				tiers: options.trackerTiers,
				request: () => ({
					infoHash: metainfo.infoHash,
					peerId: options.peerId,
					port: options.port,
					// Nothing is served to peers before seeding exists.
					uploaded: 0,
					downloaded: picker.doneBytes,
					left: layout.totalLength - picker.doneBytes,
					numwant: options.numwant,
				}),
				completed$,
				keepAnnouncing: false,
				hungry$: defer(() => peerSwarm.activePeers$.pipe(map((count) => count === 0))),
				timeoutMs: options.announceTimeoutMs,
				retryDelayMs: options.announceRetryMs,
				defaultMinIntervalMs: options.starvingReannounceMs,
				...(options.scheduler ? {scheduler: options.scheduler} : {}),
			}).pipe(share());

			const peers$: Observable<PeerAddress[]> = tracker$.pipe(
				filter((event) => event.type === 'announce-answered'),
				map((event) => event.peers),
			);
			const peerSwarm = swarm(peers$, {...ports, store}, context, {maxPeers: options.maxPeers});
			const starving$ = peerSwarm.activePeers$.pipe(
				pairwise(),
				filter(([before, now]) => before > 0 && now === 0 && !picker.complete),
				map((): RunEvent => ({type: 'no-peers'})),
			);

			const started: RunEvent = {
				type: 'started',
				name: metainfo.name,
				infoHash: metainfo.infoHash.toString('hex'),
				pieceCount: layout.pieceCount,
				pieceLength: metainfo.pieceLength,
				totalLength: layout.totalLength,
			};
			const swarm$ = picker.complete
				? of<RunEvent>({type: 'completed', bytes: 0})
				: merge(peerSwarm.events$, starving$.pipe(takeUntil(completed$)));
			return concat(
				of(started),
				merge(
					tracker$,
					swarm$.pipe(
						takeWhile((event) => event.type !== 'completed', true),
						tap((event) => {
							if (event.type === 'completed') {
								completed$.next();
								completed$.complete();
							}
						}),
					),
				),
			);
		}),
	);
}
