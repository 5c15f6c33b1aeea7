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
	take,
	throwError,
} from 'rxjs';
import {encodeExtendedHandshake} from '../codec/extension-protocol.js';
import {
	encodeHandshake,
	type Handshake,
	ourReservedBytes,
	supportsExtensionProtocol,
	supportsFastExtension,
} from '../codec/handshake.js';
import {encodeMessage, type PeerMessage} from '../codec/messages.js';
import {downloadFromPeer} from '../download/download-from-peer.js';
import {describeError, PeerProtocolError, StorageError} from '../errors.js';
import type {PeerSource, RunEvent} from '../events/events.js';
import {frameWire, handshakeWithin} from '../peer/framer.js';
import type {PeerWire} from '../peer/transport.js';
import {mergeMapWhere} from '../rx/merge-map-where.js';
import {withResource} from '../rx/with-resource.js';
import {serveToPeer} from '../serve/serve-to-peer.js';
import type {PeerStats, SwarmContext, SwarmPorts} from '../swarm/swarm-context.js';
import {verifyAndStore} from '../verify/verify-and-store.js';
import {answerExtensions} from './extension-messages.js';

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
	if (!handshake.infoHash.equals(context.settings.infoHash)) {
		throw new PeerProtocolError('handshake for another torrent');
	}

	if (handshake.peerId.equals(context.settings.peerId)) {
		context.reputation.markOurs(peer);
		throw new PeerProtocolError('connected to ourselves');
	}

	const admission = context.reputation.admit(peer, handshake.peerId.toString('hex'));
	if (!admission.admitted) {
		throw new PeerProtocolError(admission.reason);
	}
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
			const {settings, shared} = context;
			const scheduler = settings.scheduler ?? asyncScheduler;
			const {picker} = shared;
			const send = (messages: PeerMessage[]) => {
				wire.send(
					messages.length === 1 && messages[0]
						? encodeMessage(messages[0])
						: Buffer.concat(messages.map(encodeMessage)),
				);
			};

			const sendHandshake = () =>
				wire.send(
					encodeHandshake({
						reserved: ourReservedBytes(),
						infoHash: settings.infoHash,
						peerId: settings.peerId,
					}),
				);
			// Dialling out, ours goes first (BEP 3: the initiator's does). A caller hears ours only once
			// its own names our torrent: sent at once, it told any port scanner what we are downloading.
			const incoming = source === 'incoming';
			if (!incoming) {
				sendHandshake();
			}

			const frames$ = wire.incoming$.pipe(
				frameWire(maxMessageLength(picker.pieceCount)),
				handshakeWithin(settings.handshakeTimeoutMs, scheduler),
			);
			const optionalScheduler = settings.scheduler ? {scheduler: settings.scheduler} : {};
			let extended = false;
			let fast = false;
			const exchange = (messages$: Observable<PeerMessage>) =>
				merge(
					messages$.pipe(
						downloadFromPeer({
							peer,
							picker,
							window: settings.window,
							tickMs: settings.tickMs,
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
							pieceSize: settings.pieceSize,
							have: (index) => picker.isDone(index),
							readBlock: ports.readBlock,
							...(ports.peekBlock ? {peekBlock: ports.peekBlock} : {}),
							send: wire.send,
							drained$: wire.drained$,
							unchoked$: shared.unchoked$.pipe(map((unchoked) => unchoked.has(peer))),
							stats,
							totals: shared.totals,
							interestChanged: shared.interestChanged,
							maxQueuedRequests: settings.maxQueuedRequests,
							fast,
							reportMs: settings.tickMs,
							...optionalScheduler,
						}),
					),
					// Extension messages mean something only from a peer that said it speaks them (BEP 10).
					extended
						? messages$.pipe(
								answerExtensions({
									peer,
									send: (message) => send([message]),
									...(settings.infoBytes ? {infoBytes: settings.infoBytes} : {}),
									maxMetadataRequests: 1000,
									...(settings.pex ? {pex: settings.pex} : {}),
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
								shared.peers.set(peer, stats);
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
											client: settings.clientName,
											port: settings.listenPort,
											requestQueue: settings.maxQueuedRequests,
											...(settings.infoBytes ? {metadataSize: settings.infoBytes.length} : {}),
											withPex: settings.pex !== undefined,
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
					if (shared.peers.get(peer) === stats) {
						shared.peers.delete(peer);
						shared.interestChanged();
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
