import {
	asyncScheduler,
	catchError,
	concat,
	defer,
	EMPTY,
	endWith,
	finalize,
	ignoreElements,
	merge,
	mergeMap,
	type Observable,
	of,
	type SchedulerLike,
	Subject,
	share,
	switchMap,
	takeUntil,
	takeWhile,
	tap,
	timer,
} from 'rxjs';
import {type PeerAddress, peerKey} from '../codec/compact-peers.js';
import {
	decodeExtendedHandshake,
	decodeMetadataMessage,
	encodeExtendedHandshake,
	encodeMetadataMessage,
	ourExtensions,
} from '../codec/extension-protocol.js';
import {encodeHandshake, ourReservedBytes, supportsExtensionProtocol} from '../codec/handshake.js';
import {encodeMessage, type PeerMessage} from '../codec/messages.js';
import {describeError, PeerProtocolError} from '../errors.js';
import type {RunEvent} from '../events/events.js';
import {frameWire, handshakeWithin} from '../peer/framer.js';
import type {ConnectPort} from '../peer/transport.js';
import {withResource} from '../rx/with-resource.js';
import {BoundedMap, maxRememberedPeers} from '../swarm/bounded-map.js';
import {CandidatePool} from '../swarm/candidate-pool.js';
import {dialFromPool} from '../swarm/dial-from-pool.js';
import {MetadataAssembly} from './metadata-assembly.js';

export type MetadataFetchOptions = {
	infoHash: Buffer;
	peerId: Buffer;
	/** Our client name for the extended handshake's `v`. */
	client: string;
	maxPeers: number;
	handshakeTimeoutMs: number;
	/** A peer that sends no metadata piece for this long is left for others. */
	pieceTimeoutMs: number;
	/**
	 * A peer whose session ended (it failed, or it had nothing) is dialled again if it is named
	 * again this long after: a peer that was not ready is the only one a DHT may find.
	 */
	redialAfterMs?: number;
	/** Addresses waiting for a free slot, at most; more are dropped. */
	maxCandidates?: number;
	scheduler?: SchedulerLike;
};

/** As many addresses as the swarm keeps waiting: enough for several trackers' answers. */
const defaultMaxCandidates = 3000;

/** The DHT looks a magnet link up again every 15 s. */
const defaultRedialAfterMs = 15_000;

/** The verified info dictionary, once some peers have handed over all of it. */
export type MetadataFetched = {type: 'metadata'; infoBytes: Buffer};

/** Metadata pieces asked of one peer at once: small enough to share the work, enough to fill the pipe. */
const piecesInFlightPerPeer = 4;

/**
 * One peer's part in a magnet link's metadata fetch (BEP 9 over BEP 10): the handshake with the
 * extension bit, the extended handshake both ways, then requests for pieces of the info
 * dictionary until the assembly is whole. Ends with a `peer-disconnected` event, however it ends.
 */
function metadataSession(
	address: PeerAddress,
	connect: ConnectPort,
	assembly: MetadataAssembly,
	options: MetadataFetchOptions,
): Observable<RunEvent | MetadataFetched> {
	const peer = peerKey(address);
	const scheduler = options.scheduler ?? asyncScheduler;
	const session$ = withResource(
		connect(address),
		(wire): Observable<RunEvent | MetadataFetched> =>
			defer(() => {
				const send = (message: PeerMessage) => wire.send(encodeMessage(message));
				wire.send(
					encodeHandshake({reserved: ourReservedBytes(), infoHash: options.infoHash, peerId: options.peerId}),
				);
				let theirMetadataId = 0;
				let theirSize: number | undefined;
				let asked = 0;
				// Ticks when the wait for this peer's next piece starts again (or ends: nothing asked).
				const pieceClock$ = new Subject<void>();
				const askMore = () => {
					if (theirMetadataId === 0 || theirSize === undefined || !assembly.offerSize(theirSize, peer)) {
						return;
					}

					const idle = asked === 0;
					try {
						fill();
					} finally {
						if (idle && asked > 0) {
							pieceClock$.next();
						}
					}
				};

				const fill = () => {
					while (asked < piecesInFlightPerPeer) {
						const piece = assembly.claim(peer);
						if (piece === undefined) {
							return;
						}

						asked++;
						send({
							type: 'extended',
							extension: theirMetadataId,
							payload: encodeMetadataMessage({kind: 'request', piece}),
						});
					}
				};

				// Only a peer we are waiting on can be too slow: the clock runs while pieces are asked of it.
				const pieceTimeout$ = pieceClock$.pipe(
					switchMap(() => (asked > 0 ? timer(options.pieceTimeoutMs, scheduler) : EMPTY)),
					tap(() => {
						throw new PeerProtocolError(`no metadata piece for ${options.pieceTimeoutMs / 1000} s`);
					}),
					ignoreElements(),
				);
				// Pieces freed elsewhere (a peer gone, a failed whole) are for whoever is idle.
				const freed$ = assembly.changes$.pipe(tap(askMore), ignoreElements());
				const frames$ = wire.incoming$.pipe(
					frameWire(64 * 1024),
					handshakeWithin(options.handshakeTimeoutMs, scheduler),
					mergeMap((frame): Observable<RunEvent | MetadataFetched> => {
						if (frame.type === 'handshake') {
							if (!frame.handshake.infoHash.equals(options.infoHash)) {
								throw new PeerProtocolError('handshake for another torrent');
							}

							if (!supportsExtensionProtocol(frame.handshake.reserved)) {
								throw new PeerProtocolError('no extension protocol, so no metadata');
							}

							send({
								type: 'extended',
								extension: 0,
								payload: encodeExtendedHandshake({client: options.client, port: 0, requestQueue: 250}),
							});
							return of({type: 'peer-connected', peer, peerId: frame.handshake.peerId.toString('latin1')});
						}

						if (frame.type !== 'extended') {
							return EMPTY;
						}

						if (frame.extension === 0) {
							const theirs = decodeExtendedHandshake(frame.payload);
							theirMetadataId = theirs.extensions.get('ut_metadata') ?? 0;
							if (theirMetadataId === 0 || theirs.metadataSize === undefined) {
								throw new PeerProtocolError('peer has no metadata to give');
							}

							// A size other than the one being assembled waits: the others may turn out wrong.
							theirSize = theirs.metadataSize;
							askMore();
							return theirs.client
								? of<RunEvent>({type: 'peer-identified', peer, client: theirs.client})
								: EMPTY;
						}

						if (frame.extension !== ourExtensions.ut_metadata) {
							return EMPTY;
						}

						const message = decodeMetadataMessage(frame.payload);
						if (message.kind === 'request') {
							// We have nothing to give yet.
							send({
								type: 'extended',
								extension: theirMetadataId,
								payload: encodeMetadataMessage({kind: 'reject', piece: message.piece}),
							});
							return EMPTY;
						}

						asked = Math.max(0, asked - 1);
						if (asked === 0) {
							pieceClock$.next();
						}

						if (message.kind === 'reject') {
							assembly.release(peer, message.piece);
							throw new PeerProtocolError(`rejected metadata piece ${message.piece}`);
						}

						pieceClock$.next();
						const whole = assembly.receive(peer, message.piece, message.data);
						if (whole === false) {
							throw new PeerProtocolError(
								`metadata piece ${message.piece} was not asked for or is the wrong size`,
							);
						}

						if (assembly.isBanned(peer)) {
							throw new PeerProtocolError('its metadata does not hash to the info hash');
						}

						if (whole) {
							return of<MetadataFetched>({type: 'metadata', infoBytes: whole});
						}

						askMore();
						return EMPTY;
					}),
					share(),
				);
				return merge(
					frames$,
					// The peer's stream ending ends the session, timers and all.
					merge(pieceTimeout$, freed$).pipe(takeUntil(frames$.pipe(ignoreElements(), endWith(undefined)))),
				);
			}),
	);
	const ended = (reason: string) => of<RunEvent>({type: 'peer-disconnected', peer, reason});
	return concat(
		of<RunEvent>({type: 'peer-connecting', peer}),
		concat<Array<RunEvent | MetadataFetched>>(session$, ended('connection closed')).pipe(
			catchError((error: unknown) => ended(describeError(error))),
			finalize(() => assembly.leave(peer)),
		),
	);
}

/**
 * Fetches a torrent's info dictionary from the peers `peers$` names, at most `maxPeers` at
 * once, each peer once at a time (and again only `redialAfterMs` after it was let go). Addresses
 * wait in a bounded `CandidatePool`, as the swarm's do: sessions run under a `mergeMap`
 * concurrency limit over cheap tokens, one per waiting address, each taking its address from
 * the pool only when its slot is free; an address named while the pool is full is dropped.
 * Emits the peers' events and then, once the pieces hash to the info hash, the metadata, and
 * completes (closing every connection). Completes without it if the peers run out first.
 */
export function fetchMetadata(
	peers$: Observable<PeerAddress>,
	connect: ConnectPort,
	options: MetadataFetchOptions,
): Observable<RunEvent | MetadataFetched> {
	return defer(() => {
		const assembly = new MetadataAssembly(options.infoHash);
		const scheduler = options.scheduler ?? asyncScheduler;
		const redialAfterMs = options.redialAfterMs ?? defaultRedialAfterMs;
		// When each peer's last session ended, for as many peers as the swarm remembers: a DHT
		// naming ever new addresses cannot grow it. One forgotten is only dialled again sooner.
		const endedAt = new BoundedMap<string, number>(maxRememberedPeers);
		const pool = new CandidatePool(options.maxCandidates ?? defaultMaxCandidates, (key) => {
			const ended = endedAt.get(key);
			return ended !== undefined && scheduler.now() < ended + redialAfterMs;
		});
		const dialer = dialFromPool(pool, options.maxPeers, (candidate) =>
			metadataSession(candidate.address, connect, assembly, options).pipe(
				finalize(() => {
					endedAt.set(candidate.key, scheduler.now());
					pool.release(candidate.key);
				}),
			),
		);
		const sessions$ = dialer.sessions$;
		const found$ = peers$.pipe(
			tap({
				// Dialability was judged where the address was learnt (a local tracker may name local peers).
				next(address) {
					pool.add([address], 'magnet', {allowLocal: true});
					dialer.refill();
				},
				complete: () => dialer.end(),
			}),
			ignoreElements(),
		);
		return merge(sessions$, found$).pipe(
			// The metadata is the last thing emitted: every session is closed with it.
			takeWhile((event) => event.type !== 'metadata', true),
		);
	});
}
