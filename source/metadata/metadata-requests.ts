import {
	decodeExtendedHandshake,
	decodeMetadataMessage,
	encodeMetadataMessage,
	ourExtensions,
} from '../codec/extension-protocol.js';
import type {PeerMessage} from '../codec/messages.js';
import {PeerProtocolError} from '../errors.js';
import type {RunEvent} from '../events/events.js';
import type {MetadataAssembly} from './metadata-assembly.js';

/** The verified info dictionary, once some peers have handed over all of it. */
export type MetadataFetched = {type: 'metadata'; infoBytes: Buffer};

/** Metadata pieces asked of one peer at once: small enough to share the work, enough to fill the pipe. */
const piecesInFlightPerPeer = 4;

/**
 * One peer's BEP 9 requests: its id for ut_metadata and its dictionary's size (from its extended
 * handshake, BEP 10), the pieces asked of it, and what its answers mean for the assembly.
 * Requests go out through `send`; `restartClock` is called whenever the wait for the peer's
 * next piece starts again, or ends (`waiting` says which).
 */
export class MetadataRequests {
	#theirMetadataId = 0;
	#theirSize: number | undefined;
	#asked = 0;

	constructor(
		readonly peer: string,
		readonly assembly: MetadataAssembly,
		readonly send: (message: PeerMessage) => void,
		readonly restartClock: () => void,
	) {}

	/** Pieces are asked of the peer and not yet answered. */
	get waiting(): boolean {
		return this.#asked > 0;
	}

	/**
	 * A message from the peer: its extended handshake, or a ut_metadata message under our id;
	 * anything else means nothing here. Returns the event it makes, if any; throws a
	 * `PeerProtocolError` for one that ends the session.
	 */
	receive(message: PeerMessage): RunEvent | MetadataFetched | undefined {
		if (message.type !== 'extended') {
			return undefined;
		}

		if (message.extension === 0) {
			return this.#theirHandshake(message.payload);
		}

		return message.extension === ourExtensions.ut_metadata ? this.#metadata(message.payload) : undefined;
	}

	/** Asks the peer for more pieces, up to `piecesInFlightPerPeer`, once it has said it has them. */
	askMore(): void {
		if (
			this.#theirMetadataId === 0 ||
			this.#theirSize === undefined ||
			!this.assembly.offerSize(this.#theirSize, this.peer)
		) {
			return;
		}

		const idle = this.#asked === 0;
		try {
			this.#fill();
		} finally {
			if (idle && this.#asked > 0) {
				this.restartClock();
			}
		}
	}

	#fill(): void {
		while (this.#asked < piecesInFlightPerPeer) {
			const piece = this.assembly.claim(this.peer);
			if (piece === undefined) {
				return;
			}

			this.#asked++;
			this.send({
				type: 'extended',
				extension: this.#theirMetadataId,
				payload: encodeMetadataMessage({kind: 'request', piece}),
			});
		}
	}

	#theirHandshake(payload: Buffer): RunEvent | undefined {
		const theirs = decodeExtendedHandshake(payload);
		this.#theirMetadataId = theirs.extensions.get('ut_metadata') ?? 0;
		if (this.#theirMetadataId === 0 || theirs.metadataSize === undefined) {
			throw new PeerProtocolError('peer has no metadata to give');
		}

		// A size other than the one being assembled waits: the others may turn out wrong.
		this.#theirSize = theirs.metadataSize;
		this.askMore();
		return theirs.client ? {type: 'peer-identified', peer: this.peer, client: theirs.client} : undefined;
	}

	#metadata(payload: Buffer): MetadataFetched | undefined {
		const message = decodeMetadataMessage(payload);
		if (message.kind === 'request') {
			// We have nothing to give yet.
			this.send({
				type: 'extended',
				extension: this.#theirMetadataId,
				payload: encodeMetadataMessage({kind: 'reject', piece: message.piece}),
			});
			return undefined;
		}

		this.#asked = Math.max(0, this.#asked - 1);
		if (this.#asked === 0) {
			this.restartClock();
		}

		if (message.kind === 'reject') {
			this.assembly.release(this.peer, message.piece);
			throw new PeerProtocolError(`rejected metadata piece ${message.piece}`);
		}

		this.restartClock();
		const whole = this.assembly.receive(this.peer, message.piece, message.data);
		if (whole === false) {
			throw new PeerProtocolError(`metadata piece ${message.piece} was not asked for or is the wrong size`);
		}

		if (this.assembly.isBanned(this.peer)) {
			throw new PeerProtocolError('its metadata does not hash to the info hash');
		}

		if (whole) {
			return {type: 'metadata', infoBytes: whole};
		}

		this.askMore();
		return undefined;
	}
}
