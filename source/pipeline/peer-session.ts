import {
	asyncScheduler,
	catchError,
	concat,
	connect,
	defer,
	endWith,
	filter,
	finalize,
	map,
	merge,
	mergeMap,
	type Observable,
	of,
	type SchedulerLike,
	Subject,
	skip,
	take,
	timeout,
} from 'rxjs';
import {type PeerAddress, peerKey} from '../codec/compact-peers.js';
import {encodeHandshake, type Handshake} from '../codec/handshake.js';
import {encodeMessage, type PeerMessage} from '../codec/messages.js';
import {describeError, PeerProtocolError} from '../errors.js';
import type {RunEvent} from '../events/events.js';
import type {HashPort} from '../hashing/sha1.js';
import {frameWire} from '../peer/framer.js';
import type {ConnectPort} from '../peer/socket.js';
import type {PieceStore} from '../storage/disk.js';
import {downloadFromPeer} from './download-from-peer.js';
import type {RequestWindowOptions} from './peer-downloader.js';
import type {PiecePicker} from './piece-picker.js';
import type {PieceProgress} from './piece-progress.js';

export type SwarmPorts = {
	connect: ConnectPort;
	hashPiece: HashPort;
	store: PieceStore;
};

export type SwarmContext = {
	infoHash: Buffer;
	peerId: Buffer;
	pieceHashes: readonly Buffer[];
	picker: PiecePicker;
	window: RequestWindowOptions;
	tickMs: number;
	handshakeTimeoutMs: number;
	/** A peer whose pieces fail the hash this many times is dropped and not called again. */
	maxStrikes: number;
	/** Hash failures per peer, kept across reconnections. */
	strikes: Map<string, number>;
	banned: Set<string>;
	scheduler?: SchedulerLike;
};

/** The largest message we accept: a bitfield for this torrent, or a 128 KiB block with its header. */
function maxMessageLength(pieceCount: number): number {
	return Math.max(1 + Math.ceil(pieceCount / 8), 9 + 128 * 1024);
}

function checkHandshake(handshake: Handshake, context: SwarmContext): void {
	if (!handshake.infoHash.equals(context.infoHash)) {
		throw new PeerProtocolError('handshake for another torrent');
	}

	if (handshake.peerId.equals(context.peerId)) {
		throw new PeerProtocolError('connected to ourselves');
	}
}

/** Hashes a finished piece; a good one is written and counted, a bad one is a strike against whoever sent it. */
function verifyAndStore(
	piece: PieceProgress,
	peer: string,
	ports: SwarmPorts,
	context: SwarmContext,
): Observable<RunEvent> {
	const {picker} = context;
	let settled = false;
	return ports.hashPiece(piece.data).pipe(
		mergeMap((digest): Observable<RunEvent> => {
			if (digest.equals(context.pieceHashes[piece.index] ?? Buffer.alloc(0))) {
				return ports.store.writePiece(piece.index, piece.data).pipe(
					map((): RunEvent => {
						settled = true;
						picker.markDone(piece.index);
						return {type: 'piece-verified', peer, index: piece.index, bytes: piece.length};
					}),
					mergeMap((verified) =>
						picker.complete
							? of(verified, {type: 'completed', bytes: picker.doneBytes} as const)
							: of(verified),
					),
				);
			}

			settled = true;
			picker.markFailed(piece.index);
			let strikesOfThisPeer = 0;
			for (const contributor of piece.contributors) {
				const strikes = (context.strikes.get(contributor) ?? 0) + 1;
				context.strikes.set(contributor, strikes);
				if (contributor === peer) {
					strikesOfThisPeer = strikes;
				}
			}

			const failed: RunEvent = {type: 'piece-failed', peer, index: piece.index, strikes: strikesOfThisPeer};
			if (strikesOfThisPeer >= context.maxStrikes) {
				context.banned.add(peer);
				return concat(
					of(failed),
					defer(() => {
						throw new PeerProtocolError(`sent ${strikesOfThisPeer} pieces that failed the hash check`);
					}),
				);
			}

			return of(failed);
		}),
		finalize(() => {
			// Torn down before the piece was written (the peer went away, the run stopped): fetch it again.
			if (!settled) {
				picker.markFailed(piece.index);
			}
		}),
	);
}

/**
 * Everything about one peer, from connect to disconnect, as a stream of events: the handshake,
 * the download stage, verification and storage of what it sends. Any failure ends this peer
 * only, as a `peer-disconnected` event carrying the reason; the swarm goes on.
 */
export function peerSession(
	address: PeerAddress,
	ports: SwarmPorts,
	context: SwarmContext,
): Observable<RunEvent> {
	return defer(() => {
		const peer = peerKey(address);
		const scheduler = context.scheduler ?? asyncScheduler;
		const outgoing = new Subject<Buffer>();
		const send = (messages: PeerMessage[]) => {
			outgoing.next(
				messages.length === 1 && messages[0]
					? encodeMessage(messages[0])
					: Buffer.concat(messages.map(encodeMessage)),
			);
		};

		const handshake = encodeHandshake({
			reserved: Buffer.alloc(8),
			infoHash: context.infoHash,
			peerId: context.peerId,
		});
		const frames$ = ports
			.connect(address, concat(of(handshake), outgoing))
			.pipe(
				frameWire(maxMessageLength(context.picker.pieceCount)),
				timeout({first: context.handshakeTimeoutMs, scheduler}),
			);

		const session$ = frames$.pipe(
			// One subscription to the socket, shared by the handshake check and the download.
			connect((frames) =>
				merge(
					frames.pipe(
						take(1),
						map((frame): RunEvent => {
							if (frame.type !== 'handshake') {
								throw new PeerProtocolError('no handshake');
							}

							checkHandshake(frame.handshake, context);
							return {type: 'peer-connected', peer, peerId: frame.handshake.peerId.toString('latin1')};
						}),
					),
					frames.pipe(
						skip(1),
						filter((frame): frame is PeerMessage => frame.type !== 'handshake'),
						downloadFromPeer({
							peer,
							picker: context.picker,
							window: context.window,
							tickMs: context.tickMs,
							send,
							...(context.scheduler ? {scheduler: context.scheduler} : {}),
						}),
						mergeMap((activity) =>
							activity.type === 'piece-complete'
								? verifyAndStore(activity.piece, peer, ports, context)
								: of<RunEvent>(activity),
						),
					),
				),
			),
		);

		return concat(
			of<RunEvent>({type: 'peer-connecting', peer}),
			session$.pipe(endWith<RunEvent>({type: 'peer-disconnected', peer, reason: 'connection closed'})),
		).pipe(
			catchError((error: unknown) =>
				of<RunEvent>({type: 'peer-disconnected', peer, reason: describeError(error)}),
			),
		);
	});
}
