import {
	asyncScheduler,
	catchError,
	concat,
	connect,
	defer,
	EMPTY,
	filter,
	finalize,
	from,
	map,
	merge,
	type Observable,
	of,
	type SchedulerLike,
	take,
	throwError,
} from 'rxjs';
import type {PeerAddress} from '../codec/compact-peers.js';
import {encodeExtendedHandshake} from '../codec/extension-protocol.js';
import {
	encodeHandshake,
	type Handshake,
	ourReservedBytes,
	supportsExtensionProtocol,
	supportsFastExtension,
} from '../codec/handshake.js';
import {encodeMessage, type PeerMessage} from '../codec/messages.js';
import type {PieceHashes} from '../codec/piece-hashes.js';
import {downloadFromPeer} from '../download/download-from-peer.js';
import type {PiecePicker} from '../download/piece-picker.js';
import type {RequestWindowOptions} from '../download/request-window.js';
import {describeError, PeerProtocolError, StorageError} from '../errors.js';
import type {PeerSource, RunEvent} from '../events/events.js';
import type {HashPort} from '../hashing/sha1.js';
import {frameWire, handshakeWithin} from '../peer/framer.js';
import type {ConnectPort, PeerWire} from '../peer/transport.js';
import {mergeMapWhere} from '../rx/merge-map-where.js';
import {withResource} from '../rx/with-resource.js';
import {serveToPeer, type UploadStats} from '../serve/serve-to-peer.js';
import type {PieceStore} from '../storage/disk.js';
import type {SuspectBlock} from '../swarm/blame.js';
import {verifyAndStore} from '../verify/verify-and-store.js';
import {answerExtensions} from './extension-messages.js';

export type SwarmPorts = {
	connect: ConnectPort;
	hashPiece: HashPort;
	store: PieceStore;
	/** Reads a block of a verified piece, for serving it. */
	readBlock: (index: number, begin: number, length: number) => Observable<Buffer>;
	/** The block at once if it is in memory. */
	peekBlock?: (index: number, begin: number, length: number) => Buffer | undefined;
};

/** What a session shares with the rest of the swarm about its peer. */
export type PeerStats = UploadStats & {downloaded: number; snubbed: boolean};

export type SwarmContext = {
	infoHash: Buffer;
	peerId: Buffer;
	pieceHashes: PieceHashes;
	pieceSize: (index: number) => number;
	picker: PiecePicker;
	window: RequestWindowOptions;
	tickMs: number;
	handshakeTimeoutMs: number;
	/** A peer whose pieces fail the hash this many times is dropped and not called again. */
	maxStrikes: number;
	/** Hash failures per peer, kept across reconnections. */
	strikes: Map<string, number>;
	banned: Set<string>;
	/** The peer id each address gave in its handshake: how a banned peer is known again. */
	peerIds: Map<string, string>;
	/** Addresses that answered with our own peer id (our public address, as trackers name it): never dialled again. */
	ourAddresses: Set<string>;
	/** Failed pieces that several peers sent, block by block, until a good copy shows who lied. */
	suspects: Map<number, SuspectBlock[]>;
	/** The connected peers, for the choker. */
	peers: Map<string, PeerStats>;
	/** The choker's current set of unchoked peers (replayed to newcomers). */
	unchoked$: Observable<ReadonlySet<string>>;
	/** Tells the choker that a peer's interest changed. */
	interestChanged: () => void;
	maxQueuedRequests: number;
	/** The info dictionary, for peers that fetch it by BEP 9 (none: we do not offer it). */
	infoBytes?: Buffer;
	/** Our port and name in the extended handshake (BEP 10). */
	listenPort: number;
	clientName: string;
	/** Peer exchange (BEP 11): absent for a private torrent (BEP 27). */
	pex?: {dialable: () => PeerAddress[]; intervalMs: number};
	/** Payload bytes sent to all peers, for the announces and the seed ratio. */
	totals: {uploaded: number};
	scheduler?: SchedulerLike;
};

/** The largest message we accept: a bitfield for this torrent, or a 128 KiB block with its header. */
function maxMessageLength(pieceCount: number): number {
	return Math.max(1 + Math.ceil(pieceCount / 8), 9 + 128 * 1024);
}

/**
 * BEP 6's messages mean something only when both sides set the fast bit (ours always is). As
 * libtorrent does, a peer that sends one without it is dropped: a have-all walks every piece.
 */
const fastMessages: ReadonlySet<string> = new Set([
	'suggest',
	'have-all',
	'have-none',
	'reject',
	'allowed-fast',
]);

function checkHandshake(peer: string, handshake: Handshake, context: SwarmContext): void {
	if (!handshake.infoHash.equals(context.infoHash)) {
		throw new PeerProtocolError('handshake for another torrent');
	}

	if (handshake.peerId.equals(context.peerId)) {
		context.ourAddresses.add(peer);
		throw new PeerProtocolError('connected to ourselves');
	}

	// A banned peer that calls us comes from a port of its own: its peer id gives it away (unless
	// it changes that too, which costs it the strikes it had, not more).
	const peerId = handshake.peerId.toString('hex');
	for (const address of context.banned) {
		if (context.peerIds.get(address) === peerId) {
			throw new PeerProtocolError(`banned (as ${address})`);
		}
	}

	context.peerIds.set(peer, peerId);
}

/**
 * Everything about one peer, from connect to disconnect, as a stream of events: both handshakes,
 * our bitfield, the download stage (with verification and storage of what it sends) and the
 * serving stage, side by side on one wire. `wire$` dials out, or hands over an accepted
 * connection. Any failure ends this peer only, as a `peer-disconnected` event carrying the
 * reason; the swarm goes on.
 */
export function peerSession(
	peer: string,
	wire$: Observable<PeerWire>,
	ports: SwarmPorts,
	context: SwarmContext,
	source: PeerSource = 'tracker',
): Observable<RunEvent> {
	const stats: PeerStats = {interested: false, uploaded: 0, unreported: 0, downloaded: 0, snubbed: false};
	const session$ = withResource(wire$, (wire) =>
		defer(() => {
			const scheduler = context.scheduler ?? asyncScheduler;
			const {picker} = context;
			const send = (messages: PeerMessage[]) => {
				wire.send(
					messages.length === 1 && messages[0]
						? encodeMessage(messages[0])
						: Buffer.concat(messages.map(encodeMessage)),
				);
			};

			const sendHandshake = () =>
				wire.send(
					encodeHandshake({reserved: ourReservedBytes(), infoHash: context.infoHash, peerId: context.peerId}),
				);
			// Dialling out, ours goes first (BEP 3: the initiator's does). A caller hears ours only once
			// its own names our torrent: sent at once, it told any port scanner what we are downloading.
			const incoming = source === 'incoming';
			if (!incoming) {
				sendHandshake();
			}

			const frames$ = wire.incoming$.pipe(
				frameWire(maxMessageLength(picker.pieceCount)),
				handshakeWithin(context.handshakeTimeoutMs, scheduler),
			);
			const optionalScheduler = context.scheduler ? {scheduler: context.scheduler} : {};
			let extended = false;
			let fast = false;
			const exchange = (messages$: Observable<PeerMessage>) =>
				merge(
					messages$.pipe(
						downloadFromPeer({
							peer,
							picker,
							window: context.window,
							tickMs: context.tickMs,
							stats,
							send,
							...optionalScheduler,
						}),
						mergeMapWhere(
							(activity) => activity.type === 'piece-complete',
							({piece}) => verifyAndStore(piece, peer, ports, context),
						),
					),
					messages$.pipe(
						serveToPeer({
							peer,
							pieceCount: picker.pieceCount,
							pieceSize: context.pieceSize,
							have: (index) => picker.isDone(index),
							readBlock: ports.readBlock,
							...(ports.peekBlock ? {peekBlock: ports.peekBlock} : {}),
							send: wire.send,
							drained$: wire.drained$,
							unchoked$: context.unchoked$.pipe(map((unchoked) => unchoked.has(peer))),
							stats,
							totals: context.totals,
							interestChanged: context.interestChanged,
							maxQueuedRequests: context.maxQueuedRequests,
							fast,
							reportMs: context.tickMs,
							...optionalScheduler,
						}),
					),
					// Extension messages mean something only from a peer that said it speaks them (BEP 10).
					extended
						? messages$.pipe(
								answerExtensions({
									peer,
									send: (message) => send([message]),
									...(context.infoBytes ? {infoBytes: context.infoBytes} : {}),
									maxMetadataRequests: 1000,
									...(context.pex ? {pex: context.pex} : {}),
									...optionalScheduler,
								}),
							)
						: EMPTY,
				);

			return frames$.pipe(
				// One subscription to the socket, shared by the handshake check and the exchange.
				connect((frames) =>
					concat(
						frames.pipe(
							take(1),
							map((frame): RunEvent => {
								if (frame.type !== 'handshake') {
									throw new PeerProtocolError('no handshake');
								}

								checkHandshake(peer, frame.handshake, context);
								if (incoming) {
									sendHandshake();
								}

								extended = supportsExtensionProtocol(frame.handshake.reserved);
								fast = supportsFastExtension(frame.handshake.reserved);
								context.peers.set(peer, stats);
								return {type: 'peer-connected', peer, peerId: frame.handshake.peerId.toString('latin1')};
							}),
						),
						// Subscribed while the handshake is being emitted, so no later frame is missed. Nothing
						// but our handshake goes out before the peer's: BEP 3 puts the bitfield after both,
						// and aria2 drops a connection that sends more before its handshake.
						defer(() => {
							// A seed says it in one byte (BEP 6). No pieces means no message at all, as in BEP 3:
							// after a have-none, libtorrent 2.0.8 seeders closed the connection, and their port,
							// in about one run in five of the PEX interop test; without it, never.
							if (fast && picker.complete) {
								send([{type: 'have-all'}]);
							} else if (picker.have.count > 0) {
								send([{type: 'bitfield', bitfield: picker.have.bytes}]);
							}

							if (extended) {
								send([
									{
										type: 'extended',
										extension: 0,
										payload: encodeExtendedHandshake({
											client: context.clientName,
											port: context.listenPort,
											requestQueue: context.maxQueuedRequests,
											...(context.infoBytes ? {metadataSize: context.infoBytes.length} : {}),
											withPex: context.pex !== undefined,
										}),
									},
								]);
							}

							return frames.pipe(
								filter((frame): frame is PeerMessage => {
									if (!fast && fastMessages.has(frame.type)) {
										throw new PeerProtocolError(`${frame.type} without the fast extension (BEP 6)`);
									}

									return frame.type !== 'handshake';
								}),
								connect(exchange),
							);
						}),
					),
				),
				finalize(() => {
					if (context.peers.get(peer) === stats) {
						context.peers.delete(peer);
						context.interestChanged();
					}
				}),
			);
		}),
	);

	// However the session ends, the last upload not yet reported comes before the goodbye.
	const ended = (reason: string) =>
		defer(() => {
			const bytes = stats.unreported;
			stats.unreported = 0;
			const disconnected: RunEvent = {type: 'peer-disconnected', peer, reason};
			const goodbye: RunEvent[] =
				bytes > 0 ? [{type: 'uploaded', peer, bytes}, disconnected] : [disconnected];
			return from(goodbye);
		});
	return concat(
		of<RunEvent>({type: 'peer-connecting', peer, source}),
		concat(session$, ended('connection closed')).pipe(
			// A peer's misdeed ends its session; the disk failing ends the run: no peer can fix that.
			catchError((error: unknown) =>
				error instanceof StorageError ? throwError(() => error) : ended(describeError(error)),
			),
		),
	);
}
