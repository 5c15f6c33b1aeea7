import {randomBytes} from 'node:crypto';
import dgram from 'node:dgram';
import {lookup} from 'node:dns/promises';
import {
	asyncScheduler,
	defer,
	finalize,
	from,
	map,
	type Observable,
	of,
	type SchedulerLike,
	Subject,
	switchMap,
	tap,
	throwError,
} from 'rxjs';
import {type AnnounceResponse, defaultInterval} from '../codec/tracker-response.js';
import {
	decodeUdpTrackerReply,
	encodeAnnounceRequest,
	encodeConnectRequest,
	encodeScrapeRequest,
	type UdpTrackerReply,
} from '../codec/udp-tracker.js';
import {TrackerError} from '../errors.js';
import type {AnnounceRequest} from './announce-request.js';
import {type RetransmitOptions, withRetransmits} from './udp-retransmit.js';

export type UdpTrackerOptions = RetransmitOptions & {
	/** BEP 15: a client may use a connection id for a minute after it got it. */
	connectionIdTtlMs: number;
	/** The socket closes after this long without a request, and its connection ids with it. */
	idleMs: number;
	scheduler?: SchedulerLike;
};

export const defaultUdpTrackerOptions: UdpTrackerOptions = {
	baseMs: 15_000,
	maxRetransmits: 2,
	connectionIdTtlMs: 60_000,
	idleMs: 120_000,
};

type Family = 'IPv4' | 'IPv6';

/** One UDP socket and the requests waiting on it, by transaction id. */
type Endpoint = {
	socket: dgram.Socket;
	waiting: Map<number, {address: string; port: number; replies: Subject<UdpTrackerReply>}>;
	/** Connection ids by tracker address; tied to this socket's port, so they go with it. */
	connectionIds: Map<string, {id: bigint; receivedAt: number}>;
	idleTimer?: NodeJS.Timeout;
};

export type ScrapeCounts = {seeders: number; completed: number; leechers: number};

export type UdpTrackerClient = {
	announce(trackerUrl: string, request: AnnounceRequest): Observable<AnnounceResponse>;
	/** BEP 15 scrape: the counts for each torrent, in the order asked. */
	scrape(trackerUrl: string, infoHashes: Buffer[]): Observable<ScrapeCounts[]>;
};

/** Torrents one scrape may ask about: what fits in a datagram that is never fragmented (BEP 15). */
const maxScrapeHashes = 74;

/** `udp://host:port/anything` → host and port; a missing port is an error (there is no default). */
function parseUdpUrl(trackerUrl: string): {host: string; port: number} {
	let url: URL;
	try {
		url = new URL(trackerUrl);
	} catch {
		throw new TrackerError(`${trackerUrl}: not a URL`);
	}

	const port = Number(url.port);
	if (url.protocol !== 'udp:' || !url.hostname || !(port > 0)) {
		throw new TrackerError(`${trackerUrl}: a UDP tracker needs udp://host:port`);
	}

	return {host: url.hostname.replace(/^\[|\]$/g, ''), port};
}

const newTransactionId = () => randomBytes(4).readUInt32BE(0);

/**
 * A BEP 15 UDP tracker client for one run: one socket per address family, opened on demand and
 * closed when idle (it never holds the process open), connection ids kept for their minute,
 * transaction ids checked, requests retransmitted on the BEP's doubling schedule.
 */
export function createUdpTrackerClient(
	options: UdpTrackerOptions = defaultUdpTrackerOptions,
): UdpTrackerClient {
	const scheduler = options.scheduler ?? asyncScheduler;
	const endpoints = new Map<Family, Endpoint>();
	// BEP 15's key: lets the tracker know us across address changes; one per run.
	const key = newTransactionId();

	const closeEndpoint = (family: Family) => {
		const endpoint = endpoints.get(family);
		if (endpoint) {
			endpoints.delete(family);
			clearTimeout(endpoint.idleTimer);
			for (const {replies} of endpoint.waiting.values()) {
				replies.error(new TrackerError('UDP tracker socket closed'));
			}

			endpoint.socket.close();
		}
	};

	const endpointFor = (family: Family): Endpoint => {
		const existing = endpoints.get(family);
		if (existing) {
			clearTimeout(existing.idleTimer);
			return existing;
		}

		const socket = dgram.createSocket(family === 'IPv4' ? 'udp4' : 'udp6');
		const endpoint: Endpoint = {socket, waiting: new Map(), connectionIds: new Map()};
		socket.on('message', (packet, sender) => {
			let reply: UdpTrackerReply;
			try {
				reply = decodeUdpTrackerReply(packet, family);
			} catch {
				return;
			}

			const waiting = endpoint.waiting.get(reply.transactionId);
			// Only the tracker we asked may answer: a stray or forged packet is ignored.
			if (waiting && waiting.address === sender.address && waiting.port === sender.port) {
				waiting.replies.next(reply);
			}
		});
		socket.on('error', () => closeEndpoint(family));
		socket.bind(0);
		socket.unref();
		endpoints.set(family, endpoint);
		return endpoint;
	};

	const releaseWhenIdle = (family: Family, endpoint: Endpoint) => {
		if (endpoint.waiting.size === 0 && endpoints.get(family) === endpoint) {
			clearTimeout(endpoint.idleTimer);
			endpoint.idleTimer = setTimeout(() => closeEndpoint(family), options.idleMs);
			endpoint.idleTimer.unref();
		}
	};

	/** Sends `packet` (rebuilt for each transmission id) and waits for the reply with that transaction id. */
	const exchange = (
		family: Family,
		address: string,
		port: number,
		packetFor: (transactionId: number) => Buffer,
	): Observable<UdpTrackerReply> =>
		defer(() => {
			const endpoint = endpointFor(family);
			const transactionId = newTransactionId();
			const replies = new Subject<UdpTrackerReply>();
			endpoint.waiting.set(transactionId, {address, port, replies});
			const packet = packetFor(transactionId);
			return withRetransmits(() => endpoint.socket.send(packet, port, address), replies, options).pipe(
				finalize(() => {
					endpoint.waiting.delete(transactionId);
					releaseWhenIdle(family, endpoint);
				}),
			);
		});

	const expect = <A extends UdpTrackerReply['action']>(action: A, trackerUrl: string) =>
		map((reply: UdpTrackerReply): Extract<UdpTrackerReply, {action: A}> => {
			if (reply.action === 'error') {
				throw new TrackerError(`${trackerUrl}: ${reply.message || 'error'}`);
			}

			if (reply.action !== action) {
				throw new TrackerError(`${trackerUrl}: a ${reply.action} reply to a ${action} request`);
			}

			return reply as Extract<UdpTrackerReply, {action: A}>;
		});

	const connectionId = (family: Family, address: string, port: number, trackerUrl: string) =>
		defer(() => {
			const endpoint = endpointFor(family);
			const known = endpoint.connectionIds.get(`${address}:${port}`);
			if (known && scheduler.now() - known.receivedAt < options.connectionIdTtlMs) {
				return of(known.id);
			}

			return exchange(family, address, port, encodeConnectRequest).pipe(
				expect('connect', trackerUrl),
				tap((reply) => {
					endpointFor(family).connectionIds.set(`${address}:${port}`, {
						id: reply.connectionId,
						receivedAt: scheduler.now(),
					});
				}),
				map((reply) => reply.connectionId),
			);
		});

	/** Connects (or reuses the connection id), then sends what `packetFor` builds and expects `action` back. */
	const request = <A extends 'announce' | 'scrape'>(
		trackerUrl: string,
		action: A,
		packetFor: (connectionId: bigint, transactionId: number) => Buffer,
	) =>
		defer(() => {
			const {host, port} = parseUdpUrl(trackerUrl);
			return from(lookup(host)).pipe(
				switchMap(({address, family}) => {
					const addressFamily: Family = family === 6 ? 'IPv6' : 'IPv4';
					return connectionId(addressFamily, address, port, trackerUrl).pipe(
						switchMap((id) =>
							exchange(addressFamily, address, port, (transactionId) => packetFor(id, transactionId)),
						),
						expect(action, trackerUrl),
						// An error reply may mean the connection id has expired on the tracker's side.
						tap({error: () => endpoints.get(addressFamily)?.connectionIds.delete(`${address}:${port}`)}),
					);
				}),
			);
		});

	return {
		announce(trackerUrl, announce) {
			return request(trackerUrl, 'announce', (id, transactionId) =>
				encodeAnnounceRequest(id, transactionId, {
					infoHash: announce.infoHash,
					peerId: announce.peerId,
					downloaded: announce.downloaded,
					left: announce.left,
					uploaded: announce.uploaded,
					...(announce.event ? {event: announce.event} : {}),
					key,
					numwant: announce.numwant,
					port: announce.port,
				}),
			).pipe(
				map(
					(reply): AnnounceResponse => ({
						// As for HTTP: no interval (or 0) means the usual half hour, not "again at once".
						interval: reply.interval > 0 ? reply.interval : defaultInterval,
						peers: reply.peers,
						seeders: reply.seeders,
						leechers: reply.leechers,
					}),
				),
			);
		},
		scrape(trackerUrl, infoHashes) {
			if (infoHashes.length === 0 || infoHashes.length > maxScrapeHashes) {
				return throwError(
					() =>
						new TrackerError(
							`a UDP scrape asks about 1 to ${maxScrapeHashes} torrents, not ${infoHashes.length}`,
						),
				);
			}

			return request(trackerUrl, 'scrape', (id, transactionId) =>
				encodeScrapeRequest(id, transactionId, infoHashes),
			).pipe(
				map((reply) => {
					if (reply.files.length !== infoHashes.length) {
						throw new TrackerError(
							`${trackerUrl}: a scrape of ${infoHashes.length} torrents answered for ${reply.files.length}`,
						);
					}

					return reply.files;
				}),
			);
		},
	};
}
