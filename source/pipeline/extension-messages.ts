import {
	asyncScheduler,
	EMPTY,
	endWith,
	ignoreElements,
	merge,
	mergeMap,
	type Observable,
	type OperatorFunction,
	of,
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

/**
 * The BEP 10 side of a session: the peer's extended handshake (its client name and its ids for
 * our extensions) and its ut_metadata requests, answered from the info dictionary we have.
 */
export function answerExtensions(options: ExtensionOptions): OperatorFunction<PeerMessage, RunEvent> {
	return (incoming$: Observable<PeerMessage>) => {
		let theirMetadataId = 0;
		let theirPexId = 0;
		let metadataRequests = 0;
		const messages$ = incoming$.pipe(share());
		const {infoBytes} = options;
		const pieces = infoBytes ? Math.ceil(infoBytes.length / metadataPieceLength) : 0;
		const answers$ = messages$.pipe(
			mergeMap((message): Observable<RunEvent> => {
				if (message.type !== 'extended') {
					return EMPTY;
				}

				if (message.extension === 0) {
					const theirs = decodeExtendedHandshake(message.payload);
					theirMetadataId = theirs.extensions.get('ut_metadata') ?? 0;
					theirPexId = options.pex ? (theirs.extensions.get('ut_pex') ?? 0) : 0;
					return theirs.client
						? of({type: 'peer-identified', peer: options.peer, client: theirs.client})
						: EMPTY;
				}

				if (message.extension === ourExtensions.ut_pex && options.pex) {
					const {added} = decodePex(message.payload);
					return added.length > 0
						? of<RunEvent>({type: 'peers-found', source: 'pex', from: options.peer, peers: added})
						: EMPTY;
				}

				if (message.extension !== ourExtensions.ut_metadata || theirMetadataId === 0) {
					return EMPTY;
				}

				const request = decodeMetadataMessage(message.payload);
				if (request.kind !== 'request') {
					return EMPTY;
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
				return EMPTY;
			}),
		);
		return merge(answers$, options.pex ? sendPex(options, messages$, () => theirPexId) : EMPTY);
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
		// Ends with the session's messages, as the have broadcast does.
		takeUntil(messages$.pipe(ignoreElements(), endWith(undefined))),
	);
}
