import {
	auditTime,
	catchError,
	concat,
	concatMap,
	defer,
	EMPTY,
	filter,
	finalize,
	identity,
	ignoreElements,
	map,
	merge,
	mergeMap,
	type Observable,
	of,
	pairwise,
	ReplaySubject,
	type SchedulerLike,
	Subject,
	share,
	shareReplay,
	takeUntil,
	takeWhile,
	tap,
} from 'rxjs';
import {isLocalUrl} from '../codec/address-scope.js';
import type {Bitfield} from '../codec/bitfield.js';
import type {Metainfo} from '../codec/metainfo.js';
import {ourClientName} from '../codec/peer-id.js';
import {PieceBufferPool} from '../download/piece-buffers.js';
import {PiecePicker} from '../download/piece-picker.js';
import {PieceSignals} from '../download/piece-signals.js';
import type {RequestWindowOptions} from '../download/request-window.js';
import type {RunEvent} from '../events/events.js';
import type {HashPort} from '../hashing/sha1.js';
import type {IncomingPeer} from '../peer/listener.js';
import type {ConnectPort} from '../peer/transport.js';
import {mergeMapWhere} from '../rx/merge-map-where.js';
import {withResource} from '../rx/with-resource.js';
import type {PieceStore} from '../storage/disk.js';
import {StorageLayout} from '../storage/layout.js';
import {PieceCache} from '../storage/piece-cache.js';
import type {ResumeStore} from '../storage/resume-file.js';
import {choker} from '../swarm/choker.js';
import {PeerReputation} from '../swarm/reputation.js';
import {type PeerBatch, swarm} from '../swarm/swarm.js';
import type {PeerStats, SwarmContext} from '../swarm/swarm-context.js';
import {type AnnouncePort, announcer} from '../tracker/announcer.js';
import {piecesOnDisk} from '../verify/check-existing.js';
import {sha1PieceVerifier} from '../verify/piece-verifier.js';
import {type SeedOptions, seedingDone} from './seeding-done.js';

/** How often, at most, the resume file is rewritten while pieces arrive. */
const resumeSaveMs = 2000;

export type {SeedOptions} from './seeding-done.js';

export type DownloadPorts = {
	announce: AnnouncePort;
	/** Peers found other than by the trackers and PEX: a magnet link's `x.pe`, later DHT and LSD. */
	morePeers$?: Observable<PeerBatch>;
	connect: ConnectPort;
	/** Verifies each downloaded piece. */
	hashPiece: HashPort;
	/** Verifies pieces already on disk, many at once (worker threads). */
	hashStoredPiece: HashPort;
	openStore: (layout: StorageLayout) => Observable<PieceStore>;
	/** Accepted connections from peers (never completes while listening). */
	incoming$: Observable<IncomingPeer>;
	/** Where verified pieces are remembered across runs; without it every start checks the files. */
	openResume?: (layout: StorageLayout) => ResumeStore;
};

export type DownloadOptions = {
	peerId: Buffer;
	/** The port we listen on, as told to trackers. */
	port: number;
	seed?: SeedOptions;
	maxPeers: number;
	/** Calling a peer again that left while we need pieces: first delay, doubling; how many times. */
	redialDelayMs: number;
	maxRedials: number;
	maxBytesInFlight: number;
	window: RequestWindowOptions;
	tickMs: number;
	handshakeTimeoutMs: number;
	maxStrikes: number;
	/** Regular unchoke slots; one optimistic unchoke comes on top. */
	uploadSlots: number;
	chokeRoundMs: number;
	maxQueuedRequests: number;
	/** Memory for pieces read from disk to serve them. */
	readCacheBytes: number;
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
 * A whole run as one Observable of events: open the files, announce, exchange pieces with the
 * peers the trackers name and the peers that call us, verify and write every piece, announce
 * `completed`; then either complete, or keep seeding until the seed options say stop.
 * Unsubscribing at any point closes every socket and file and sends `stopped` to the tracker.
 */
export function download(
	metainfo: Metainfo,
	ports: DownloadPorts,
	options: DownloadOptions,
): Observable<RunEvent> {
	const layout = new StorageLayout(metainfo.files, metainfo.pieceLength);
	const pieceSize = (index: number) => layout.pieceSize(index);
	const started: RunEvent = {
		type: 'started',
		name: metainfo.name,
		infoHash: metainfo.infoHash.toString('hex'),
		pieceCount: layout.pieceCount,
		pieceLength: metainfo.pieceLength,
		totalLength: layout.totalLength,
	};
	return withResource(ports.openStore(layout), (store) => {
		const resume = ports.openResume?.(layout);
		const verifyStoredPiece = sha1PieceVerifier(ports.hashStoredPiece, metainfo.pieceHashes);
		const check$ = piecesOnDisk(store, resume, verifyStoredPiece, layout);
		return concat(
			of(started),
			check$.pipe(
				mergeMap((item) =>
					item.type === 'check-result' ? exchangePieces(store, item.have, resume) : of(item),
				),
			),
		);
	});

	function exchangePieces(
		store: PieceStore,
		have: Bitfield,
		resume: ResumeStore | undefined,
	): Observable<RunEvent> {
		return defer(() => {
			const signals = new PieceSignals();
			const picker = new PiecePicker(pieceSize, layout.pieceCount, {
				maxBytesInFlight: options.maxBytesInFlight,
				have,
				listener: signals,
				checkInvariants: process.env.TORRENT_RX_CHECK_INVARIANTS === '1',
				// Idle buffers up to the in-flight budget (`maxBytesInFlight`, not a fixed figure): a
				// buffer dropped is garbage that V8 frees late, so none is ever dropped, and the pieces
				// in flight bound the whole pool.
				buffers: new PieceBufferPool(options.maxBytesInFlight),
			});
			const completed$ = new Subject<void>();
			const nudgeChoker$ = new Subject<void>();
			const peers = new Map<string, PeerStats>();
			const totals = {uploaded: 0};
			const optionalScheduler = options.scheduler ? {scheduler: options.scheduler} : {};
			const unchoked$ = choker({
				candidates: () =>
					[...peers].map(([peer, stats]) => ({
						peer,
						interested: stats.interested,
						// Leeching, reward the peers that give us most; seeding, those that take most.
						transferred: picker.complete ? stats.uploaded : stats.downloaded,
						snubbed: !picker.complete && stats.snubbed,
					})),
				nudge$: nudgeChoker$,
				slots: options.uploadSlots,
				roundMs: options.chokeRoundMs,
				optimisticRounds: 3,
				...optionalScheduler,
			}).pipe(shareReplay({bufferSize: 1, refCount: true}));
			const context: SwarmContext = {
				settings: {
					infoHash: metainfo.infoHash,
					peerId: options.peerId,
					pieceSize,
					window: options.window,
					tickMs: options.tickMs,
					handshakeTimeoutMs: options.handshakeTimeoutMs,
					maxQueuedRequests: options.maxQueuedRequests,
					infoBytes: metainfo.infoBytes,
					listenPort: options.port,
					clientName: ourClientName,
					// BEP 27: a private torrent's peers come from its trackers alone.
					...(metainfo.private ? {} : {pex: {dialable: () => peerSwarm.dialable(), intervalMs: 60_000}}),
					...optionalScheduler,
				},
				shared: {picker, peers, unchoked$, interestChanged: () => nudgeChoker$.next(), totals},
				reputation: new PeerReputation(options.maxStrikes),
			};
			const cache = new PieceCache(store, pieceSize, options.readCacheBytes);
			const bytesAtStart = picker.doneBytes;

			const tracker$ = announcer(ports.announce, {
				tiers: options.trackerTiers,
				request: () => ({
					infoHash: metainfo.infoHash,
					peerId: options.peerId,
					port: options.port,
					uploaded: totals.uploaded,
					downloaded: picker.doneBytes - bytesAtStart,
					left: layout.totalLength - picker.doneBytes,
					numwant: options.numwant,
				}),
				completed$,
				keepAnnouncing: options.seed !== undefined,
				hungry$: defer(() => peerSwarm.activePeers$.pipe(map((count) => count === 0))),
				timeoutMs: options.announceTimeoutMs,
				retryDelayMs: options.announceRetryMs,
				defaultMinIntervalMs: options.starvingReannounceMs,
				...optionalScheduler,
			}).pipe(share());

			const addresses$: Observable<PeerBatch> = merge(
				tracker$.pipe(
					filter((event) => event.type === 'announce-answered'),
					// A tracker on a local address (a test swarm, a home tracker) may name local peers; a public one may not.
					map(
						(event): PeerBatch => ({
							source: 'tracker',
							peers: event.peers,
							allowLocal: isLocalUrl(event.tracker),
						}),
					),
				),
				ports.morePeers$ ?? EMPTY,
			);
			const peerSwarm = swarm(
				addresses$,
				ports.incoming$,
				{
					connect: ports.connect,
					verifyPiece: sha1PieceVerifier(ports.hashPiece, metainfo.pieceHashes),
					store,
					readBlock: (index, begin, length) =>
						cache.readBlock(index, begin, length, picker.isDone(index + 1) ? index + 1 : undefined),
					peekBlock: (index, begin, length) =>
						cache.peekBlock(index, begin, length, picker.isDone(index + 1) ? index + 1 : undefined),
				},
				context,
				{
					maxPeers: options.maxPeers,
					redialDelayMs: options.redialDelayMs,
					maxRedials: options.maxRedials,
					self: {host: '127.0.0.1', port: options.port},
				},
			);
			const starving$ = peerSwarm.activePeers$.pipe(
				pairwise(),
				filter(([before, now]) => before > 0 && now === 0 && !picker.complete),
				map((): RunEvent => ({type: 'no-peers'})),
			);

			const alreadyComplete: Observable<RunEvent> = picker.complete
				? of({type: 'completed', bytes: layout.totalLength})
				: EMPTY;
			// Replayed: a ratio reached before the download completes must still count at completion.
			const seedRatioReached$ = new ReplaySubject<void>(1);
			const run$ = merge(alreadyComplete, peerSwarm.events$, starving$.pipe(takeUntil(completed$))).pipe(
				tap((event) => {
					if (event.type === 'completed') {
						completed$.next();
						completed$.complete();
					}

					const ratio = options.seed?.ratio;
					if (ratio !== undefined && totals.uploaded >= ratio * layout.totalLength) {
						seedRatioReached$.next();
					}
				}),
				// Every event of the run passes here: only the completion gets an inner stream.
				options.seed
					? mergeMapWhere(
							(event): event is Extract<RunEvent, {type: 'completed'}> => event.type === 'completed',
							(event): Observable<RunEvent> => of(event, {type: 'seeding'} as const),
						)
					: identity,
			);
			// Remember verified pieces every few seconds until complete; the final save follows the run.
			const saves$ = resume
				? signals.verified$.pipe(
						auditTime(resumeSaveMs, options.scheduler),
						concatMap(() => resume.save(picker.have).pipe(catchError(() => EMPTY))),
						ignoreElements(),
						takeUntil(completed$),
					)
				: EMPTY;
			const events$ = options.seed
				? // Seeding ends the whole run, the tracker loop with it (which sends `stopped`).
					merge(saves$, tracker$, run$).pipe(
						takeUntil(seedingDone(options.seed, completed$, seedRatioReached$)),
					)
				: merge(saves$, tracker$, run$.pipe(takeWhile((event) => event.type !== 'completed', true)));
			// A run that ends by itself saves once more before it completes; one that is cut short
			// (interrupted) still sends that save on its way out, but cannot wait for it.
			const finalSave$ = resume
				? defer(() => resume.save(picker.have)).pipe(
						catchError(() => EMPTY),
						ignoreElements(),
					)
				: EMPTY;
			let saved = false;
			return concat(events$, finalSave$).pipe(
				tap({complete: () => (saved = true)}),
				finalize(() => {
					if (!saved) {
						resume?.save(picker.have).subscribe({error: () => undefined});
					}
				}),
			);
		});
	}
}
