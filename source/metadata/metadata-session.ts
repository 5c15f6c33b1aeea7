import {
	asyncScheduler,
	concat,
	connect,
	EMPTY,
	endWith,
	filter,
	finalize,
	ignoreElements,
	map,
	merge,
	type Observable,
	of,
	type SchedulerLike,
	Subject,
	switchMap,
	takeUntil,
	tap,
	timer,
} from 'rxjs';
import {type PeerAddress, peerKey} from '../codec/compact-peers.js';
import {encodeExtendedHandshake} from '../codec/extension-protocol.js';
import {encodeMessage, type PeerMessage} from '../codec/messages.js';
import {PeerProtocolError} from '../errors.js';
import type {RunEvent} from '../events/events.js';
import type {ConnectPort} from '../peer/transport.js';
import {withResource} from '../rx/with-resource.js';
import {sayGoodbye} from '../session/goodbye.js';
import {forTorrent} from '../session/handshake-checks.js';
import {handshakeStep} from '../session/handshake-step.js';
import type {MetadataAssembly} from './metadata-assembly.js';
import {type MetadataFetched, MetadataRequests} from './metadata-requests.js';

/** What one peer's part in the metadata fetch needs to know. */
export type MetadataSessionOptions = {
	infoHash: Buffer;
	peerId: Buffer;
	/** Our client name for the extended handshake's `v`. */
	client: string;
	handshakeTimeoutMs: number;
	/** A peer that sends no metadata piece for this long is left for others. */
	pieceTimeoutMs: number;
	scheduler?: SchedulerLike;
};

/** Room for a 16 KiB metadata piece and its bencoded header (BEP 9), and for any bitfield up to 512 Ki pieces. */
const maxMessageLength = 64 * 1024;

/**
 * One peer's part in a magnet link's metadata fetch (BEP 9 over BEP 10): the handshake with the
 * extension bit, the extended handshake both ways, then requests for pieces of the info
 * dictionary until the assembly is whole. Ends with a `peer-disconnected` event, however it ends.
 */
export function metadataSession(
	address: PeerAddress,
	dial: ConnectPort,
	assembly: MetadataAssembly,
	options: MetadataSessionOptions,
): Observable<RunEvent | MetadataFetched> {
	const peer = peerKey(address);
	const handshake = {
		infoHash: options.infoHash,
		peerId: options.peerId,
		dialling: true,
		maxMessageLength,
		handshakeTimeoutMs: options.handshakeTimeoutMs,
		scheduler: options.scheduler ?? asyncScheduler,
		check: forTorrent(options.infoHash),
	};
	const session$ = withResource(dial(address), (wire) => {
		const send = (message: PeerMessage) => wire.send(encodeMessage(message));
		// Ticks when the wait for this peer's next piece starts again (or ends: nothing asked).
		const pieceClock$ = new Subject<void>();
		const requests = new MetadataRequests(peer, assembly, send, () => pieceClock$.next());
		const talk$ = handshakeStep(
			wire,
			handshake,
			({capabilities, messages$}): Observable<RunEvent | MetadataFetched> => {
				if (!capabilities.extended) {
					throw new PeerProtocolError('no extension protocol, so no metadata');
				}

				send({
					type: 'extended',
					extension: 0,
					payload: encodeExtendedHandshake({client: options.client, port: 0, requestQueue: 250}),
				});
				return concat(
					of<RunEvent>({
						type: 'peer-connected',
						peer,
						peerId: capabilities.peerId.toString('latin1'),
						protection: wire.protection ?? 'plaintext',
					}),
					messages$.pipe(
						map((message) => requests.receive(message)),
						filter((event) => event !== undefined),
					),
				);
			},
		);
		const timers$ = merge(pieceTimeout(pieceClock$, requests, options), freedPieces(assembly, requests));
		return talk$.pipe(
			// The timers are there before the wire: the assembly tells its changes to the sessions in
			// the order they began. The peer's stream ending ends the session, timers and all.
			connect((talk) =>
				merge(talk, timers$.pipe(takeUntil(talk.pipe(ignoreElements(), endWith(undefined))))),
			),
		);
	});
	return concat(
		of<RunEvent>({type: 'peer-connecting', peer}),
		session$.pipe(
			sayGoodbye(peer),
			finalize(() => assembly.leave(peer)),
		),
	);
}

/** Only a peer we are waiting on can be too slow: the clock runs while pieces are asked of it. */
function pieceTimeout(
	pieceClock$: Observable<void>,
	requests: MetadataRequests,
	{pieceTimeoutMs, scheduler = asyncScheduler}: MetadataSessionOptions,
): Observable<never> {
	return pieceClock$.pipe(
		switchMap(() => (requests.waiting ? timer(pieceTimeoutMs, scheduler) : EMPTY)),
		tap(() => {
			throw new PeerProtocolError(`no metadata piece for ${pieceTimeoutMs / 1000} s`);
		}),
		ignoreElements(),
	);
}

/** Pieces freed elsewhere (a peer gone, a failed whole) are for whoever is idle. */
function freedPieces(assembly: MetadataAssembly, requests: MetadataRequests): Observable<never> {
	return assembly.changes$.pipe(
		tap(() => requests.askMore()),
		ignoreElements(),
	);
}
