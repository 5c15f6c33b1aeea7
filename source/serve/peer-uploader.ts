import type {PeerMessage} from '../codec/messages.js';
import {PeerProtocolError} from '../errors.js';
import {type BlockRequest, RequestQueue} from './request-queue.js';

/** What the serving side of a session knows about its peer; the choker reads it. */
export type UploadStats = {
	/** The peer wants something we have. */
	interested: boolean;
	/** Payload bytes sent to this peer so far. */
	uploaded: number;
	/** Of those, the bytes no `uploaded` event has reported yet (whoever ends the session reports them). */
	unreported: number;
};

/** Clients refuse requests above 128 KiB; 16 KiB is what everyone sends. */
export const maxRequestLength = 128 * 1024;

/** The messages serving sends: choke and unchoke (BEP 3), blocks, and rejects (BEP 6). */
export type ServedMessage = Extract<PeerMessage, {type: 'choke' | 'unchoke' | 'piece' | 'reject'}>;

/**
 * Where a `PeerUploader` puts what it decides, in the order it decides it: the only way out of
 * the state machine. Each call is one action; nothing is collected, so a block costs no array.
 * The one answer taken back is `send`'s, as a socket's `write()` gives it: false when the socket
 * is full, which holds the next block back until `drained` and counts the rejects a peer leaves
 * unread.
 */
export type UploadSink = {
	/** Writes one message to the peer; false when the socket is full. */
	send: (message: ServedMessage) => boolean;
	/**
	 * Starts reading a block, one at a time: returns it at once when it is in memory (it goes out
	 * without waiting a turn), or undefined, and the block comes later through `blockRead`.
	 */
	read: (index: number, begin: number, length: number) => Buffer | undefined;
	/** A block is waiting for the socket: call `drained` once it has drained. */
	awaitDrain: () => void;
	/** The peer's interest changed, already in `stats.interested`: the choker may act before its next round. */
	interestChanged: () => void;
};

export type PeerUploaderOptions = {
	pieceCount: number;
	pieceSize: (index: number) => number;
	/** True for pieces we have verified. */
	have: (index: number) => boolean;
	/**
	 * BEP 6 was agreed on: every request we will not serve (choked, over the cap, cancelled) is
	 * answered with a reject, since the peer may not take a choke as a reject.
	 */
	fast?: boolean;
	/** Requests queued beyond this are dropped unanswered, so a flood costs us no memory. */
	maxQueuedRequests: number;
	stats: UploadStats;
	/** Payload bytes sent to all peers, counted as they go (announces, the seed ratio). */
	totals: {uploaded: number};
};

const choke: ServedMessage = {type: 'choke'};
const unchoke: ServedMessage = {type: 'unchoke'};

/**
 * The serving side of one peer, as a state machine without I/O: fed the peer's messages, the
 * choker's verdicts, finished reads and drains, it tells its sink what to send and what to read.
 * Blocks are read one at a time and written only as fast as the socket drains. Requests for
 * pieces we lack, beyond a piece, or over 128 KiB are protocol errors (thrown as
 * `PeerProtocolError`; whoever runs it drops the peer); requests while we choke are dropped, as
 * BEP 3 says.
 */
export class PeerUploader {
	#choking = true;
	readonly #queue: RequestQueue;
	/** The request whose block is being read; nothing else is served meanwhile. */
	#reading: BlockRequest | undefined;
	/** A block went into a full socket: nothing more goes out until it drains. */
	#awaitingDrain = false;
	/** Rejects written in a row while the socket was full: a peer that asks and never reads. */
	#rejectsWhileFull = 0;

	readonly #sink: UploadSink;

	constructor(
		readonly options: PeerUploaderOptions,
		sink: UploadSink,
	) {
		this.#sink = sink;
		this.#queue = new RequestQueue(options.pieceCount > 0 ? options.pieceSize(0) : 0);
	}

	/** We choke the peer (as every session starts): its requests are not served. */
	get choking(): boolean {
		return this.#choking;
	}

	/** Requests waiting their turn, not counting the one being read. */
	get queued(): number {
		return this.#queue.size;
	}

	/** Handles one message from the peer: interest, requests and cancels; the rest is not serving's. */
	receive(message: PeerMessage): void {
		switch (message.type) {
			case 'interested':
			case 'not-interested': {
				const interested = message.type === 'interested';
				if (interested !== this.options.stats.interested) {
					this.options.stats.interested = interested;
					this.#sink.interestChanged();
				}

				break;
			}

			case 'request':
				this.#request(message);
				break;
			case 'cancel':
				// BEP 6: a cancel is answered, by the block or by a reject.
				if (this.#queue.cancel(message)) {
					this.#reject(message);
				}

				break;
			default:
				break;
		}
	}

	/** The choker's verdict: a change sends choke or unchoke; the same verdict again does nothing. */
	verdict(unchoked: boolean): void {
		if (unchoked === !this.#choking) {
			return;
		}

		this.#choking = !unchoked;
		this.#sink.send(this.#choking ? choke : unchoke);
		if (this.#choking) {
			// BEP 3: a choke discards every pending request; BEP 6 says so for each.
			for (const request of this.#queue.clear()) {
				this.#reject(request);
			}
		}
	}

	/** The block `sink.read` started reading has come. */
	blockRead(block: Buffer): void {
		const request = this.#reading;
		if (!request) {
			return;
		}

		this.#reading = undefined;
		// Choked while reading: the request is void (BEP 3), the block stays here.
		if (this.#choking) {
			this.#reject(request);
			return;
		}

		if (this.#sendBlock(request, block)) {
			this.#serve();
		} else {
			this.#waitForDrain();
		}
	}

	/** The socket has drained: a block held back for it goes on. Drains nobody waits for are not remembered. */
	drained(): void {
		if (!this.#awaitingDrain) {
			return;
		}

		this.#awaitingDrain = false;
		this.#serve();
	}

	/** The bytes sent since the last report, for one `uploaded` event; they count as reported now. */
	report(): number {
		const bytes = this.options.stats.unreported;
		this.options.stats.unreported = 0;
		return bytes;
	}

	/** For tests: the state agrees with itself (libtorrent's `check_invariant`). */
	checkInvariant(): void {
		this.#queue.checkInvariant();
		const {maxQueuedRequests, stats} = this.options;
		if (this.#queue.size > maxQueuedRequests) {
			throw new Error(`${this.#queue.size} requests queued, more than ${maxQueuedRequests}`);
		}

		if (this.#choking && this.#queue.size > 0) {
			throw new Error(`${this.#queue.size} requests queued while choking`);
		}

		if (this.#reading && this.#awaitingDrain) {
			throw new Error('reading a block while one waits for the socket');
		}

		if (!this.#choking && this.#queue.size > 0 && !this.#reading && !this.#awaitingDrain) {
			throw new Error(`${this.#queue.size} requests queued, and none being served`);
		}

		if (stats.unreported > stats.uploaded) {
			throw new Error(`${stats.unreported} bytes unreported of ${stats.uploaded} uploaded`);
		}
	}

	#request(request: BlockRequest): void {
		this.#validate(request);
		if (this.#choking) {
			this.#reject(request);
			return;
		}

		const {maxQueuedRequests} = this.options;
		// Beyond the cap a request is dropped (rejected, with BEP 6), as libtorrent does. A repeat
		// of a queued block is answered by that block.
		if (this.#queue.size >= maxQueuedRequests) {
			this.#reject(request);
		} else if (!this.#queue.add(request)) {
			return;
		}

		// Every reject is owed (BEP 6), but not to a peer that never reads them: they would pile up here.
		if (this.#rejectsWhileFull > maxQueuedRequests) {
			throw new PeerProtocolError(
				`asked for more than ${maxQueuedRequests} blocks we refused, without reading our answers`,
			);
		}

		this.#serve();
	}

	#validate({index, begin, length}: BlockRequest): void {
		if (index >= this.options.pieceCount || !this.options.have(index)) {
			throw new PeerProtocolError(`requested piece ${index}, which we do not have`);
		}

		if (length === 0 || length > maxRequestLength || begin + length > this.options.pieceSize(index)) {
			throw new PeerProtocolError(
				`request beyond the piece (piece ${index}, offset ${begin}, ${length} bytes)`,
			);
		}
	}

	/** Serves queued requests in the order they came, until one must be read or the socket is full. */
	#serve(): void {
		while (!this.#reading && !this.#awaitingDrain && !this.#choking) {
			const request = this.#queue.shift();
			if (!request) {
				return;
			}

			// Marked before the read starts, so a block that comes back during `read` finds it.
			this.#reading = request;
			const block = this.#sink.read(request.index, request.begin, request.length);
			if (!block) {
				return;
			}

			this.#reading = undefined;
			if (!this.#sendBlock(request, block)) {
				this.#waitForDrain();
			}
		}
	}

	/** Sends one block; false when the socket is full and we must wait for it to drain. */
	#sendBlock(request: BlockRequest, block: Buffer): boolean {
		const {stats, totals} = this.options;
		stats.uploaded += block.length;
		totals.uploaded += block.length;
		stats.unreported += block.length;
		// <len=0009+X><id=7><index><begin><block>
		return this.#sink.send({type: 'piece', index: request.index, begin: request.begin, block});
	}

	#waitForDrain(): void {
		this.#awaitingDrain = true;
		this.#sink.awaitDrain();
	}

	#reject(request: BlockRequest): void {
		if (!this.options.fast) {
			return;
		}

		// <len=0013><id=16><index><begin><length>
		const rejection: ServedMessage = {
			type: 'reject',
			index: request.index,
			begin: request.begin,
			length: request.length,
		};
		this.#rejectsWhileFull = this.#sink.send(rejection) ? 0 : this.#rejectsWhileFull + 1;
	}
}
