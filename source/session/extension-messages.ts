import {
	asyncScheduler,
	EMPTY,
	endWith,
	filter,
	ignoreElements,
	map,
	merge,
	type Observable,
	type OperatorFunction,
	type SchedulerLike,
	share,
	takeUntil,
	tap,
	timer,
} from 'rxjs';
import {type PeerAddress, peerKey} from '../codec/compact-peers.js';
import {
	decodeExtendedHandshake,
	decodeMetadataMessage,
	decodePex,
	encodeMetadataMessage,
	encodePex,
	maxPexPeers,
	metadataPieceLength,
	ourExtensions,
} from '../codec/extension-protocol.js';
import type {PeerMessage} from '../codec/messages.js';
import {PeerProtocolError} from '../errors.js';
import type {RunEvent} from '../events/events.js';

export type ExtensionOptions = {
	peer: string;
	send: (message: PeerMessage) => void;
	/** The info dictionary's bytes, served to peers that ask for them (BEP 9); absent: every request is rejected. */
	infoBytes?: Buffer;
	/** Metadata pieces a peer may ask for, all told: enough for many times the dictionary, never a flood. */
	maxMetadataRequests: number;
	/** Peer exchange (BEP 11), unless the torrent is private: the peers we could tell others about, and how often. */
	pex?: {dialable: () => PeerAddress[]; intervalMs: number};
	scheduler?: SchedulerLike;
};

/** BEP 10 lets a peer send its extended handshake again to update it: a few at once, then one every 10 s. */
const handshakeBurst = 4;
const handshakeRefillMs = 10_000;
/** BEP 11: PEX at most once a minute; a message that comes sooner is not read. */
const pexMinIntervalMs = 60_000;

/**
 * The BEP 10 side of a session: the peer's extended handshake (its client name and its ids for
 * our extensions), its PEX messages, and its ut_metadata requests, answered from the info
 * dictionary we have. One `map` over the messages, no inner subscription per message.
 */
export function answerExtensions(options: ExtensionOptions): OperatorFunction<PeerMessage, RunEvent> {
	return (incoming$: Observable<PeerMessage>) => {
		const scheduler = options.scheduler ?? asyncScheduler;
		let theirMetadataId = 0;
		let theirPexId = 0;
		let metadataRequests = 0;
		let client: string | undefined;
		let handshakes = 0;
		let handshakeTokens = handshakeBurst;
		let handshakeRefilledAt = 0;
		let pexUsedAt = Number.NEGATIVE_INFINITY;
		const messages$ = incoming$.pipe(share());
		const {infoBytes} = options;
		const pieces = infoBytes ? Math.ceil(infoBytes.length / metadataPieceLength) : 0;

		const handshake = (payload: Buffer): RunEvent | undefined => {
			const now = scheduler.now();
			if (handshakes++ > 0) {
				handshakeTokens = Math.min(
					handshakeBurst,
					handshakeTokens + (now - handshakeRefilledAt) / handshakeRefillMs,
				);
				if (handshakeTokens < 1) {
					throw new PeerProtocolError(
						`sent extended handshakes faster than 1 every ${handshakeRefillMs / 1000} s`,
					);
				}

				handshakeTokens--;
			}

			handshakeRefilledAt = now;
			const theirs = decodeExtendedHandshake(payload);
			theirMetadataId = theirs.extensions.get('ut_metadata') ?? 0;
			theirPexId = options.pex ? (theirs.extensions.get('ut_pex') ?? 0) : 0;
			// An update that names the same client again is no news: no event, no log line.
			if (!theirs.client || theirs.client === client) {
				return undefined;
			}

			client = theirs.client;
			return {type: 'peer-identified', peer: options.peer, client};
		};

		const peerExchange = (payload: Buffer): RunEvent | undefined => {
			const now = scheduler.now();
			if (now - pexUsedAt < pexMinIntervalMs) {
				return undefined;
			}

			pexUsedAt = now;
			const {added} = decodePex(payload);
			return added.length > 0
				? {type: 'peers-found', source: 'pex', from: options.peer, peers: added, count: added.length}
				: undefined;
		};

		const answerMetadata = (payload: Buffer): undefined => {
			const request = decodeMetadataMessage(payload);
			if (request.kind !== 'request') {
				return undefined;
			}

			metadataRequests++;
			// Each answer, even a reject, is a message queued for the peer: past the cap it is a flood.
			if (metadataRequests > options.maxMetadataRequests) {
				throw new PeerProtocolError(`asked for more than ${options.maxMetadataRequests} metadata pieces`);
			}

			const answer =
				infoBytes && request.piece < pieces
					? encodeMetadataMessage({
							kind: 'data',
							piece: request.piece,
							totalSize: infoBytes.length,
							data: infoBytes.subarray(
								request.piece * metadataPieceLength,
								(request.piece + 1) * metadataPieceLength,
							),
						})
					: encodeMetadataMessage({kind: 'reject', piece: request.piece});
			options.send({type: 'extended', extension: theirMetadataId, payload: answer});
			return undefined;
		};

		const answers$ = messages$.pipe(
			map((message): RunEvent | undefined => {
				if (message.type !== 'extended') {
					return undefined;
				}

				if (message.extension === 0) {
					return handshake(message.payload);
				}

				if (message.extension === ourExtensions.ut_pex && options.pex) {
					return peerExchange(message.payload);
				}

				return message.extension === ourExtensions.ut_metadata && theirMetadataId !== 0
					? answerMetadata(message.payload)
					: undefined;
			}),
			filter((event): event is RunEvent => event !== undefined),
		);
		return options.pex
			? merge(
					answers$,
					sendPex(options, messages$, () => theirPexId),
				)
			: answers$;
	};
}

/**
 * BEP 11: at most once a minute, the peers we are connected to that this peer may call too,
 * as what joined and what left since our last message; nothing when nothing changed.
 */
function sendPex(
	options: ExtensionOptions,
	messages$: Observable<PeerMessage>,
	theirPexId: () => number,
): Observable<never> {
	const pex = options.pex;
	if (!pex) {
		return EMPTY;
	}

	let told = new Map<string, PeerAddress>();
	return timer(pex.intervalMs / 60, pex.intervalMs, options.scheduler ?? asyncScheduler).pipe(
		tap(() => {
			const id = theirPexId();
			if (id === 0) {
				return;
			}

			const now = new Map(
				pex
					.dialable()
					.map((address) => [peerKey(address), address] as const)
					.filter(([key]) => key !== options.peer),
			);
			// Fifty of each at most; the rest go in later messages.
			const added = [...now].filter(([key]) => !told.has(key)).slice(0, maxPexPeers);
			const dropped = [...told].filter(([key]) => !now.has(key)).slice(0, maxPexPeers);
			if (added.length > 0 || dropped.length > 0) {
				options.send({
					type: 'extended',
					extension: id,
					payload: encodePex({added: added.map(([, a]) => a), dropped: dropped.map(([, a]) => a)}),
				});
				told = new Map([...told, ...added]);
				for (const [key] of dropped) {
					told.delete(key);
				}
			}
		}),
		ignoreElements(),
		// Ends when the session's messages end: the peer has gone.
		takeUntil(messages$.pipe(ignoreElements(), endWith(undefined))),
	);
}
