import {EMPTY, mergeMap, type Observable, type OperatorFunction, of} from 'rxjs';
import {
	decodeExtendedHandshake,
	decodeMetadataMessage,
	encodeMetadataMessage,
	metadataPieceLength,
	ourExtensions,
} from '../codec/extension-protocol.js';
import type {PeerMessage} from '../codec/messages.js';
import type {RunEvent} from '../events/events.js';

export type ExtensionOptions = {
	peer: string;
	send: (message: PeerMessage) => void;
	/** The info dictionary's bytes, served to peers that ask for them (BEP 9); absent: every request is rejected. */
	infoBytes?: Buffer;
	/** Metadata pieces a peer may ask for, all told: enough for many times the dictionary, never a flood. */
	maxMetadataRequests: number;
};

/**
 * The BEP 10 side of a session: the peer's extended handshake (its client name and its ids for
 * our extensions) and its ut_metadata requests, answered from the info dictionary we have.
 */
export function answerExtensions(options: ExtensionOptions): OperatorFunction<PeerMessage, RunEvent> {
	return (messages$: Observable<PeerMessage>) => {
		let theirMetadataId = 0;
		let metadataRequests = 0;
		const {infoBytes} = options;
		const pieces = infoBytes ? Math.ceil(infoBytes.length / metadataPieceLength) : 0;
		return messages$.pipe(
			mergeMap((message): Observable<RunEvent> => {
				if (message.type !== 'extended') {
					return EMPTY;
				}

				if (message.extension === 0) {
					const theirs = decodeExtendedHandshake(message.payload);
					theirMetadataId = theirs.extensions.get('ut_metadata') ?? 0;
					return theirs.client
						? of({type: 'peer-identified', peer: options.peer, client: theirs.client})
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
				const answer =
					infoBytes && request.piece < pieces && metadataRequests <= options.maxMetadataRequests
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
	};
}
