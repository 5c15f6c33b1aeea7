import path from 'node:path';
import {defer, EMPTY, from, map, merge, type Observable, of, switchMap, throwError} from 'rxjs';
import type {PeerAddress} from '../codec/compact-peers.js';
import {resolveSelection, type SelectionRequest, selectsEverything} from '../codec/file-selection.js';
import type {Metainfo} from '../codec/metainfo.js';
import {generatePeerId} from '../codec/peer-id.js';
import {inFlightBudget} from '../download/piece-picker.js';
import {defaultWindowOptions} from '../download/request-window.js';
import {MetainfoError, UsageError} from '../errors.js';
import type {RunEvent} from '../events/events.js';
import type {HashPort} from '../hashing/sha1.js';
import type {Dht} from '../peer/dht.js';
import {dialUnder, type EncryptionPolicy, incomingProtocolsFor} from '../peer/encryption-policy.js';
import {acceptingProtocols} from '../peer/incoming-protocol.js';
import {listenForPeers} from '../peer/listener.js';
import {localPeers} from '../peer/lsd.js';
import {connectTcp} from '../peer/socket.js';
import type {ConnectPort} from '../peer/transport.js';
import {download, type SeedOptions} from '../run/download.js';
import {withResource} from '../rx/with-resource.js';
import {openPieceStore, partsFilePath} from '../storage/disk.js';
import {StorageLayout} from '../storage/layout.js';
import {stateFolderName} from '../storage/own-files.js';
import {isInside} from '../storage/paths.js';
import {rememberedSelection, resumeFile} from '../storage/resume-file.js';
import {makeSymlinks} from '../storage/symlinks.js';
import type {PeerBatch} from '../swarm/swarm.js';
import {announceByScheme} from '../tracker/announce-port.js';
import {shuffleTiers} from '../tracker/tiers.js';
import {openWebSeeds, webSeedUrls} from '../webseed/web-seed-ports.js';

export type RunConfig = {
	outputDir: string;
	/** Port to listen on; a free one when taken. */
	port: number;
	listenHost: string;
	maxPeers: number;
	seed?: SeedOptions;
	/** Hashes pieces, downloaded or found on disk: the worker pool, so the event loop never waits for SHA-1. */
	hashPiece: HashPort;
	/** Keep a resume file in `outputDir/.torrent-rx/` (default: yes). */
	resumeFile?: boolean;
	/** The history log this run appends to, if any: the payload may not take its name. */
	historyFile?: string;
	/** Peers to call besides the trackers' (a magnet link's `x.pe`). */
	peers?: PeerAddress[];
	/** The DHT node to find peers through (BEP 5); never used for a private torrent (BEP 27). */
	dht?: Dht;
	/** The DHT's bootstrap nodes are all on local addresses (a test or home swarm): local peers it finds may be dialled. */
	localDht?: boolean;
	/** Local service discovery (BEP 14); never for a private torrent either. */
	lsd?: boolean;
	/** How far MSE/PE is used, both ways (default: prefer). */
	encryption?: EncryptionPolicy;
	/** `--select` and `--exclude` as given; none given: the selection the resume file remembers, or every file. */
	selection?: SelectionRequest;
	/** Use the torrent's web seeds (BEP 19)? Yes unless `--no-web-seeds`. */
	webSeeds?: boolean;
};

/**
 * How web seeds are asked: three runs at once, each two seconds of what one run gets (a piece at
 * least, 4 MiB at most), a stall after 20 s without a byte.
 */
function webSeedSettings(pieceLength: number) {
	return {
		run: {
			runBytes: Math.max(pieceLength, 4 * 1024 * 1024),
			runSeconds: 2,
			runsInFlight: 3,
			retryDelayMs: 2000,
			maxFailures: 6,
		},
		client: {stallTimeoutMs: 20_000, maxRedirects: 5, maxSocketsPerHost: 4},
	};
}

/** How often the DHT is asked again: a lookup every quarter of an hour keeps our announce fresh. */
const dhtLookupIntervalMs = 15 * 60 * 1000;

/** Peers from outside the trackers: the magnet link's, and the DHT's and the local network's unless the torrent is private. */
function morePeers(metainfo: Metainfo, config: RunConfig, listenPort: number): Observable<PeerBatch> {
	// The user's own `x.pe` and LSD may name peers on the local network; a public DHT may not.
	const fromLink = config.peers?.length
		? of<PeerBatch>({source: 'magnet', peers: config.peers, allowLocal: true})
		: EMPTY;
	const {dht} = config;
	const fromDht =
		dht && !metainfo.private
			? dht
					.peers(metainfo.infoHash, {announcePort: listenPort, intervalMs: dhtLookupIntervalMs})
					.pipe(map((peers): PeerBatch => ({source: 'dht', peers, allowLocal: config.localDht === true})))
			: EMPTY;
	const fromLocalNetwork =
		config.lsd && !metainfo.private
			? localPeers(metainfo.infoHash, {port: listenPort, intervalMs: 5 * 60 * 1000}).pipe(
					map((peers): PeerBatch => ({source: 'lsd', peers, allowLocal: true})),
				)
			: EMPTY;
	return merge(fromLink, fromDht, fromLocalNetwork);
}

/**
 * Why the torrent cannot be downloaded into `outputDir` beside our own files, if it cannot. Its
 * name is the only top-level entry it adds there (its other paths are below that name), so that
 * is the one to compare: with our state folder (case-folded, for case-insensitive file systems),
 * and with the history log, which must be neither the payload nor inside its folder.
 */
export function reservedNameProblem(
	metainfo: Metainfo,
	outputDir: string,
	historyFile?: string,
): MetainfoError | UsageError | undefined {
	if (metainfo.name.toLowerCase() === stateFolderName) {
		return new MetainfoError(
			`the torrent's name ${metainfo.name} is torrent-rx's own state folder; refusing it`,
		);
	}

	if (historyFile && isInside(path.resolve(outputDir, metainfo.name), path.resolve(historyFile))) {
		return new UsageError(
			`the torrent's files (${metainfo.name}) would take the history log's place ${historyFile}: give --history FILE or --no-history`,
		);
	}

	return undefined;
}

/**
 * One torrent, wired to the real world: TCP peers, HTTP trackers, files under `outputDir`, with
 * the tuning a user gets; a torrent whose name is one of ours is refused first. The CLI and the
 * demo's seeders and downloader all run through here.
 */
export function runTorrent(metainfo: Metainfo, config: RunConfig): Observable<RunEvent> {
	return defer(() => {
		const problem = reservedNameProblem(metainfo, config.outputDir, config.historyFile);
		return problem
			? throwError(() => problem)
			: from(selectionFor(metainfo, config)).pipe(
					switchMap((selected) => runChecked(metainfo, config, selected)),
				);
	});
}

/**
 * Which files this run downloads: what `--select`/`--exclude` say; when neither is given, what
 * the resume file remembers of the last run; undefined for every file.
 */
async function selectionFor(metainfo: Metainfo, config: RunConfig): Promise<boolean[] | undefined> {
	const request = config.selection;
	const given = request && (request.select.length > 0 || request.exclude.length > 0);
	const layout = new StorageLayout(metainfo.files, metainfo.pieceLength);
	const selected = given
		? resolveSelection(metainfo.files, request)
		: config.resumeFile === false
			? undefined
			: await rememberedSelection(config.outputDir, metainfo.infoHash, layout);
	return selected && !selectsEverything(metainfo.files, selected) ? selected : undefined;
}

/** The MSE/PE handshake's bound, besides the BitTorrent handshake's own. */
const mseTimeoutMs = 10_000;

/** TCP dialling for the torrent `infoHash`, encrypted as `config.encryption` says. */
export function dialPeers(infoHash: Buffer, config: RunConfig): ConnectPort {
	return dialUnder(config.encryption ?? 'prefer', connectTcp({connectTimeoutMs: 10_000}), {
		infoHash,
		timeoutMs: mseTimeoutMs,
	});
}

function runChecked(
	metainfo: Metainfo,
	config: RunConfig,
	selected: boolean[] | undefined,
): Observable<RunEvent> {
	const encryption = config.encryption ?? 'prefer';
	const files = {
		...(selected ? {selected} : {}),
		partsFile: partsFilePath(config.outputDir, metainfo.infoHash),
	};
	const seedUrls = config.webSeeds === false ? [] : webSeedUrls(metainfo);
	const webSeeding = webSeedSettings(metainfo.pieceLength);
	return withResource(listenForPeers({port: config.port, host: config.listenHost}), (listener) =>
		download(
			metainfo,
			{
				announce: announceByScheme({httpTimeoutMs: 15_000}),
				connect: dialPeers(metainfo.infoHash, config),
				morePeers$: morePeers(metainfo, config, listener.port),
				hashPiece: config.hashPiece,
				hashStoredPiece: config.hashPiece,
				openStore: (layout) => openPieceStore(layout, config.outputDir, files),
				makeLinks: (links) => defer(() => makeSymlinks(config.outputDir, links)),
				...(seedUrls.length > 0
					? {openWebSeeds: () => openWebSeeds(metainfo, seedUrls, webSeeding.client)}
					: {}),
				...(config.resumeFile === false
					? {}
					: {
							openResume: (layout: StorageLayout) =>
								resumeFile(config.outputDir, metainfo.infoHash, layout, files),
						}),
				// MSE/PE callers as well as plaintext ones, unless the policy says otherwise: WebTorrent's
				// first try is encrypted, a "require encryption" client's only one.
				incoming$: listener.connections$.pipe(
					acceptingProtocols(incomingProtocolsFor(encryption), [metainfo.infoHash], {
						timeoutMs: mseTimeoutMs,
					}),
				),
			},
			{
				peerId: generatePeerId(),
				port: listener.port,
				...(config.seed ? {seed: config.seed} : {}),
				...(selected ? {selected} : {}),
				maxPeers: config.maxPeers,
				redialDelayMs: 2000,
				maxRedials: 6,
				// 16 MiB to 256 MiB (four pieces), or one piece if bigger; peers holding nothing may take
				// the pieces in flight a quarter over it, no further.
				maxBytesInFlight: inFlightBudget(metainfo.pieceLength),
				// A debugging aid, as libtorrent's TORRENT_USE_INVARIANT_CHECKS is.
				checkInvariants: process.env.TORRENT_RX_CHECK_INVARIANTS === '1',
				window: defaultWindowOptions,
				tickMs: 1000,
				handshakeTimeoutMs: 10_000,
				maxStrikes: 3,
				// A backstop only: HTTP announces time out at 15 s, UDP ones after BEP 15's retransmissions.
				announceTimeoutMs: 120_000,
				announceRetryMs: 15_000,
				starvingReannounceMs: 30_000,
				uploadSlots: 4,
				chokeRoundMs: 10_000,
				// libtorrent's default; beyond it requests are dropped, not queued.
				maxQueuedRequests: 2000,
				readCacheBytes: 32 * 1024 * 1024,
				numwant: 80,
				trackerTiers: shuffleTiers(metainfo.announceTiers),
				webSeeds: webSeeding.run,
			},
		),
	);
}
