import type {Observable, SchedulerLike} from 'rxjs';
import type {FileEntry} from '../codec/metainfo.js';
import type {RequestWindowOptions} from '../download/request-window.js';
import type {HashPort} from '../hashing/sha1.js';
import type {IncomingPeer} from '../peer/listener.js';
import type {ConnectPort} from '../peer/transport.js';
import type {PieceStore} from '../storage/disk.js';
import type {StorageLayout} from '../storage/layout.js';
import type {ResumeStore} from '../storage/resume-file.js';
import type {SkippedLink} from '../storage/symlinks.js';
import type {PeerBatch} from '../swarm/swarm.js';
import type {AnnouncePort} from '../tracker/announcer.js';
import type {WebSeedOptions, WebSeedPort} from '../webseed/web-seed.js';
import type {SeedOptions} from './seeding-done.js';

/** A run's I/O: the trackers, the peers both ways, hashing, the files and the resume file. */
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
	/**
	 * Makes the torrent's links (BEP 47 `attr` `l`) once its files are open, and emits those it
	 * skipped; without it no link is made.
	 */
	makeLinks?: (files: readonly FileEntry[]) => Observable<SkippedLink[]>;
	/** Where verified pieces are remembered across runs; without it every start checks the files. */
	openResume?: (layout: StorageLayout) => ResumeStore;
	/** The torrent's web seeds (BEP 19), opened for the run and closed with it; none when absent. */
	openWebSeeds?: (layout: StorageLayout) => Observable<readonly WebSeedPort[]>;
};

/** Who we are, the limits and the periods of a run. */
export type DownloadOptions = {
	peerId: Buffer;
	/** The port we listen on, as told to trackers. */
	port: number;
	seed?: SeedOptions;
	/** Per file of the torrent, whether to download it; every file when absent. */
	selected?: readonly boolean[];
	maxPeers: number;
	/** Calling a peer again that left while we need pieces: first delay, doubling; how many times. */
	redialDelayMs: number;
	maxRedials: number;
	maxBytesInFlight: number;
	/** The picker checks its books after every change (O(pieces) each: for tests and small torrents). */
	checkInvariants?: boolean;
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
	/** How each web seed asks for pieces (see `webSeed`); needed when there are web seeds. */
	webSeeds?: WebSeedOptions;
	scheduler?: SchedulerLike;
};
