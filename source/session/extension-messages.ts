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

/** What one of the peer's messages calls for: an event for the run, an answer for the peer, both or neither. */
export type ExtensionActions = {event?: RunEvent; reply?: PeerMessage};

const nothing: ExtensionActions = {};

/**
 * The BEP 10 state of one peer, without I/O: its extended handshake (its client name and its
 * ids for our extensions, re-sent at most in a short burst), its PEX messages (read at most
 * once a minute), and its ut_metadata requests, answered from the info dictionary we have.
 */
export class PeerExtensions {
	/** The peer's id for our metadata messages and for PEX; 0 until it names one. */
	theirMetadataId = 0;
	theirPexId = 0;
	#client: string | undefined;
	#handshakes = 0;
	#handshakeTokens = handshakeBurst;
	#handshakeRefilledAt = 0;
	#pexUsedAt = Number.NEGATIVE_INFINITY;
	#metadataRequests = 0;
	readonly #metadataPieces: number;

	constructor(readonly options: Omit<ExtensionOptions, 'send' | 'scheduler'>) {
		this.#metadataPieces = options.infoBytes ? Math.ceil(options.infoBytes.length / metadataPieceLength) : 0;
	}

	/** One message from the peer at `now`; anything but an extended message is no concern of this. */
	receive(message: PeerMessage, now: number): ExtensionActions {
		if (message.type !== 'extended') {
			return nothing;
		}

		if (message.extension === 0) {
			return this.#handshake(message.payload, now);
		}

		if (message.extension === ourExtensions.ut_pex && this.options.pex) {
			return this.#peerExchange(message.payload, now);
		}

		return message.extension === ourExtensions.ut_metadata && this.theirMetadataId !== 0
			? this.#answerMetadata(message.payload)
			: nothing;
	}

	#handshake(payload: Buffer, now: number): ExtensionActions {
		if (this.#handshakes++ > 0) {
			this.#handshakeTokens = Math.min(
				handshakeBurst,
				this.#handshakeTokens + (now - this.#handshakeRefilledAt) / handshakeRefillMs,
			);
			if (this.#handshakeTokens < 1) {
				throw new PeerProtocolError(
					`sent extended handshakes faster than 1 every ${handshakeRefillMs / 1000} s`,
				);
			}

			this.#handshakeTokens--;
		}

		this.#handshakeRefilledAt = now;
		const theirs = decodeExtendedHandshake(payload);
		this.theirMetadataId = theirs.extensions.get('ut_metadata') ?? 0;
		this.theirPexId = this.options.pex ? (theirs.extensions.get('ut_pex') ?? 0) : 0;
		// An update that names the same client again is no news: no event, no log line.
		if (!theirs.client || theirs.client === this.#client) {
			return nothing;
		}

		this.#client = theirs.client;
		return {event: {type: 'peer-identified', peer: this.options.peer, client: theirs.client}};
	}

	#peerExchange(payload: Buffer, now: number): ExtensionActions {
		if (now - this.#pexUsedAt < pexMinIntervalMs) {
			return nothing;
		}

		this.#pexUsedAt = now;
		const {added} = decodePex(payload);
		return added.length > 0
			? {
					event: {
						type: 'peers-found',
						source: 'pex',
						from: this.options.peer,
						peers: added,
						count: added.length,
					},
				}
			: nothing;
	}

	#answerMetadata(payload: Buffer): ExtensionActions {
		const request = decodeMetadataMessage(payload);
		if (request.kind !== 'request') {
			return nothing;
		}

		this.#metadataRequests++;
		// Each answer, even a reject, is a message queued for the peer: past the cap it is a flood.
		if (this.#metadataRequests > this.options.maxMetadataRequests) {
			throw new PeerProtocolError(`asked for more than ${this.options.maxMetadataRequests} metadata pieces`);
		}

		const {infoBytes} = this.options;
		const answer =
			infoBytes && request.piece < this.#metadataPieces
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
		return {reply: {type: 'extended', extension: this.theirMetadataId, payload: answer}};
	}
}

/**
 * The BEP 10 side of a session: `PeerExtensions` fed the peer's messages, its answers sent and
 * its events emitted, and our PEX messages on their timer. One `map` over the messages, no
 * inner subscription per message.
 */
export function answerExtensions(options: ExtensionOptions): OperatorFunction<PeerMessage, RunEvent> {
	return (incoming$: Observable<PeerMessage>) => {
		const scheduler = options.scheduler ?? asyncScheduler;
		const extensions = new PeerExtensions(options);
		const messages$ = incoming$.pipe(share());
		const answers$ = messages$.pipe(
			map((message): RunEvent | undefined => {
				const {event, reply} = extensions.receive(message, scheduler.now());
				if (reply) {
					options.send(reply);
				}

				return event;
			}),
			filter((event): event is RunEvent => event !== undefined),
		);
		return options.pex
			? merge(
					answers$,
					sendPex(options, messages$, () => extensions.theirPexId),
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
