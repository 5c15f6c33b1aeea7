import path from 'node:path';
import {
	concat,
	concatMap,
	defer,
	EMPTY,
	from,
	merge,
	mergeMap,
	NEVER,
	type Observable,
	of,
	share,
	switchMap,
	takeWhile,
	throwError,
} from 'rxjs';
import {torrentFileFromInfo} from '../codec/build-metainfo.js';
import type {PeerAddress} from '../codec/compact-peers.js';
import type {MagnetLink} from '../codec/magnet.js';
import {type Metainfo, parseMetainfo} from '../codec/metainfo.js';
import {generatePeerId, ourClientName} from '../codec/peer-id.js';
import {StorageError} from '../errors.js';
import type {RunEvent} from '../events/events.js';
import {fetchMetadata, type MetadataFetched} from '../metadata/fetch-metadata.js';
import {isDialable, isLocalUrl} from '../peer/address-scope.js';
import {createInside, readOwnFile} from '../storage/own-files.js';
import {announceByScheme} from '../tracker/announce-port.js';
import {announcer} from '../tracker/announcer.js';
import {shuffleTiers} from '../tracker/tiers.js';
import {dialPeers, type RunConfig, reservedNameProblem, runTorrent} from './run-torrent.js';

/**
 * Saves the fetched torrent as `<name>.torrent` in the output folder, or as
 * `<name>.<hash8>.torrent` when a different file has that name. Nothing that exists is ever
 * overwritten, and a link at either name is never taken for our file (own-files.ts).
 */
export async function saveTorrent(outputDir: string, metainfo: Metainfo, bytes: Buffer): Promise<string> {
	const names = [
		`${metainfo.name}.torrent`,
		`${metainfo.name}.${metainfo.infoHash.toString('hex').slice(0, 8)}.torrent`,
	].map((name) => path.join(outputDir, name));
	for (const file of names) {
		if ((await createInside(outputDir, file, bytes)) || (await readOwnFile(file))?.equals(bytes)) {
			return file;
		}
	}

	throw new StorageError(`cannot save the torrent: ${names.join(' and ')} exist and hold something else`);
}

/** Announces the link to its trackers, for peers to fetch its metadata from. */
function announceLink(link: MagnetLink, config: RunConfig, peerId: Buffer) {
	return announcer(announceByScheme({httpTimeoutMs: 15_000}), {
		tiers: shuffleTiers(link.trackers.map((tracker) => [tracker])),
		request: () => ({
			infoHash: link.infoHash,
			peerId,
			port: config.port,
			uploaded: 0,
			downloaded: 0,
			// The size is not known yet; anything but 0 says we are not a seed.
			left: 1,
			numwant: 80,
		}),
		completed$: NEVER,
		keepAnnouncing: true,
		hungry$: of(false),
		timeoutMs: 120_000,
		retryDelayMs: 15_000,
		defaultMinIntervalMs: 30_000,
	});
}

/** Every peer heard of for the link: its own `x.pe`, its trackers' answers, the DHT's. */
function linkPeers(
	link: MagnetLink,
	config: RunConfig,
	announces$: Observable<RunEvent>,
): Observable<PeerAddress> {
	// The link's own `x.pe` may name local peers; a tracker or the DHT only when it is local itself.
	return merge(
		from(link.peers),
		announces$.pipe(
			mergeMap((event) =>
				event.type === 'announce-answered'
					? event.peers.filter((peer) => isDialable(peer, isLocalUrl(event.tracker)))
					: [],
			),
		),
		config.dht
			? config.dht
					.peers(link.infoHash, {intervalMs: 15_000})
					.pipe(mergeMap((peers) => peers.filter((peer) => isDialable(peer, config.localDht === true))))
			: EMPTY,
	);
}

/** The link's info dictionary fetched from its peers (BEP 9), with the announces on the way. */
function fetchLinkMetadata(link: MagnetLink, config: RunConfig): Observable<RunEvent | MetadataFetched> {
	return defer(() => {
		const peerId = generatePeerId();
		const announces$ = announceLink(link, config, peerId).pipe(share());
		return merge(
			announces$,
			fetchMetadata(linkPeers(link, config, announces$), dialPeers(link.infoHash, config), {
				infoHash: link.infoHash,
				peerId,
				client: ourClientName,
				maxPeers: config.maxPeers,
				handshakeTimeoutMs: 10_000,
				pieceTimeoutMs: 30_000,
			}),
		).pipe(takeWhile((event) => event.type !== 'metadata', true));
	});
}

/** From the fetched info dictionary: the .torrent saved, then the download of that torrent. */
function downloadFetched(link: MagnetLink, config: RunConfig, infoBytes: Buffer): Observable<RunEvent> {
	const bytes = torrentFileFromInfo(infoBytes, link.trackers, link.webSeeds);
	const metainfo = parseMetainfo(bytes);
	// Refused before the .torrent is saved: nothing is left behind for a torrent we will not fetch.
	const problem = reservedNameProblem(metainfo, config.outputDir, config.historyFile);
	if (problem) {
		return throwError(() => problem);
	}

	return from(saveTorrent(config.outputDir, metainfo, bytes)).pipe(
		switchMap((torrentFile) =>
			concat(
				of<RunEvent>({
					type: 'metadata-fetched',
					name: metainfo.name,
					bytes: infoBytes.length,
					torrentFile,
				}),
				runTorrent(metainfo, {...config, peers: [...(config.peers ?? []), ...link.peers]}),
			),
		),
	);
}

/**
 * A magnet link's whole run: find peers through its trackers and `x.pe` addresses, fetch the
 * info dictionary from them (BEP 9), save it as a .torrent beside the download, then go on as
 * a download of that torrent, announcing to the link's trackers.
 */
export function runMagnet(link: MagnetLink, config: RunConfig): Observable<RunEvent> {
	return concat(
		of<RunEvent>({
			type: 'metadata-fetching',
			infoHash: link.infoHash.toString('hex'),
			...(link.displayName ? {name: link.displayName} : {}),
		}),
		fetchLinkMetadata(link, config).pipe(
			concatMap((event) =>
				event.type === 'metadata' ? downloadFetched(link, config, event.infoBytes) : of(event),
			),
		),
	);
}
