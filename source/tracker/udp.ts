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

/** The client's sockets, one per address family: opened on demand, closed when idle. */
class UdpEndpoints {
	readonly #endpoints = new Map<Family, Endpoint>();

	constructor(readonly options: UdpTrackerOptions) {}

	/** The open socket for `family`, if there is one. */
	get(family: Family): Endpoint | undefined {
		return this.#endpoints.get(family);
	}

	/** The socket for `family`, opened if it is not; it stays open while it is used. */
	open(family: Family): Endpoint {
		const existing = this.#endpoints.get(family);
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
		socket.on('error', () => this.close(family));
		socket.bind(0);
		socket.unref();
		this.#endpoints.set(family, endpoint);
		return endpoint;
	}

	/** Closes `family`'s socket; the requests waiting on it fail. */
	close(family: Family): void {
		const endpoint = this.#endpoints.get(family);
		if (endpoint) {
			this.#endpoints.delete(family);
			clearTimeout(endpoint.idleTimer);
			for (const {replies} of endpoint.waiting.values()) {
				replies.error(new TrackerError('UDP tracker socket closed'));
			}

			endpoint.socket.close();
		}
	}

	/** Sends `packet` (rebuilt for each transmission id) and waits for the reply with that transaction id. */
	exchange(
		family: Family,
		address: string,
		port: number,
		packetFor: (transactionId: number) => Buffer,
	): Observable<UdpTrackerReply> {
		return defer(() => {
			const endpoint = this.open(family);
			const transactionId = newTransactionId();
			const replies = new Subject<UdpTrackerReply>();
			endpoint.waiting.set(transactionId, {address, port, replies});
			const packet = packetFor(transactionId);
			return withRetransmits(() => endpoint.socket.send(packet, port, address), replies, this.options).pipe(
				finalize(() => {
					endpoint.waiting.delete(transactionId);
					this.#releaseWhenIdle(family, endpoint);
				}),
			);
		});
	}

	#releaseWhenIdle(family: Family, endpoint: Endpoint): void {
		if (endpoint.waiting.size === 0 && this.#endpoints.get(family) === endpoint) {
			clearTimeout(endpoint.idleTimer);
			endpoint.idleTimer = setTimeout(() => this.close(family), this.options.idleMs);
			endpoint.idleTimer.unref();
		}
	}
}

/** The reply as the `action` asked for; an error reply, or a reply to something else, is an error. */
function expectReply<A extends UdpTrackerReply['action']>(action: A, trackerUrl: string) {
	return map((reply: UdpTrackerReply): Extract<UdpTrackerReply, {action: A}> => {
		if (reply.action === 'error') {
			throw new TrackerError(`${trackerUrl}: ${reply.message || 'error'}`);
		}

		if (reply.action !== action) {
			throw new TrackerError(`${trackerUrl}: a ${reply.action} reply to a ${action} request`);
		}

		return reply as Extract<UdpTrackerReply, {action: A}>;
	});
}

/** The connection id for a tracker address: the one we hold while it is fresh, else a new connect. */
function connectionId(
	endpoints: UdpEndpoints,
	scheduler: SchedulerLike,
	{family, address, port, trackerUrl}: {family: Family; address: string; port: number; trackerUrl: string},
): Observable<bigint> {
	return defer(() => {
		const endpoint = endpoints.open(family);
		const known = endpoint.connectionIds.get(`${address}:${port}`);
		if (known && scheduler.now() - known.receivedAt < endpoints.options.connectionIdTtlMs) {
			return of(known.id);
		}

		return endpoints.exchange(family, address, port, encodeConnectRequest).pipe(
			expectReply('connect', trackerUrl),
			tap((reply) => {
				endpoints.open(family).connectionIds.set(`${address}:${port}`, {
					id: reply.connectionId,
					receivedAt: scheduler.now(),
				});
			}),
			map((reply) => reply.connectionId),
		);
	});
}

/** Connects (or reuses the connection id), then sends what `packetFor` builds and expects `action` back. */
function udpRequest<A extends 'announce' | 'scrape'>(
	endpoints: UdpEndpoints,
	scheduler: SchedulerLike,
	trackerUrl: string,
	action: A,
	packetFor: (connectionId: bigint, transactionId: number) => Buffer,
) {
	return defer(() => {
		const {host, port} = parseUdpUrl(trackerUrl);
		return from(lookup(host)).pipe(
			switchMap(({address, family}) => {
				const addressFamily: Family = family === 6 ? 'IPv6' : 'IPv4';
				return connectionId(endpoints, scheduler, {family: addressFamily, address, port, trackerUrl}).pipe(
					switchMap((id) =>
						endpoints.exchange(addressFamily, address, port, (transactionId) => packetFor(id, transactionId)),
					),
					expectReply(action, trackerUrl),
					// An error reply may mean the connection id has expired on the tracker's side.
					tap({error: () => endpoints.get(addressFamily)?.connectionIds.delete(`${address}:${port}`)}),
				);
			}),
		);
	});
}

/**
 * A BEP 15 UDP tracker client for one run: one socket per address family, opened on demand and
 * closed when idle (it never holds the process open), connection ids kept for their minute,
 * transaction ids checked, requests retransmitted on the BEP's doubling schedule.
 */
export function createUdpTrackerClient(
	options: UdpTrackerOptions = defaultUdpTrackerOptions,
): UdpTrackerClient {
	const scheduler = options.scheduler ?? asyncScheduler;
	const endpoints = new UdpEndpoints(options);
	// BEP 15's key: lets the tracker know us across address changes; one per run.
	const key = newTransactionId();
	return {
		announce(trackerUrl, announce) {
			return udpRequest(endpoints, scheduler, trackerUrl, 'announce', (id, transactionId) =>
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

			return udpRequest(endpoints, scheduler, trackerUrl, 'scrape', (id, transactionId) =>
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
