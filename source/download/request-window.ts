import {blockLength} from '../codec/messages.js';

/** How a peer's request window is sized, and when a peer counts as stalled or silent. */
export type RequestWindowOptions = {
	/** Requests in flight before the first rate measurement. */
	initialWindow: number;
	minWindow: number;
	maxWindow: number;
	/** Keep this many seconds of the measured rate in flight: the bandwidth-delay product with slack. */
	queueSeconds: number;
	/** No block for this long while requests are out: the peer is stalled and dropped. */
	requestTimeoutMs: number;
	/** Send a keep-alive when we have said nothing for this long (BEP 3 suggests 2 minutes). */
	keepAliveMs: number;
	/** Drop a peer that has said nothing for this long. */
	idleTimeoutMs: number;
};

export const defaultWindowOptions: RequestWindowOptions = {
	initialWindow: 32,
	minWindow: 8,
	// libtorrent queues up to 500 requests from a peer by default; more would be dropped.
	maxWindow: 500,
	queueSeconds: 2,
	requestTimeoutMs: 30_000,
	keepAliveMs: 90_000,
	idleTimeoutMs: 180_000,
};

/** At most this many requests wait for the window to have room for all of them. */
const maxRequestBatch = 16;

/**
 * How many requests one peer may have out: slow start until the first measurement, then the
 * measured rate times `queueSeconds`, within `minWindow` and `maxWindow`, never shrinking.
 */
export class RequestWindow {
	#size: number;
	/**
	 * Until the first rate measurement, each block asked for and received widens the window by one
	 * (it doubles every round trip, as TCP's slow start): sized by the initial window alone, a peer
	 * 50 ms away stayed below its link's rate for the whole first second.
	 */
	#slowStart = true;
	#bytesSinceTick = 0;

	constructor(readonly options: RequestWindowOptions) {
		this.#size = options.initialWindow;
	}

	get size(): number {
		return this.#size;
	}

	/** Requests topped up at once: a request per block received would cost a syscall each. */
	get batch(): number {
		return Math.max(1, Math.min(maxRequestBatch, Math.floor(this.#size / 4)));
	}

	/** A block we asked for came, `bytes` long. */
	blockReceived(bytes: number): void {
		this.#bytesSinceTick += bytes;
		if (this.#slowStart && this.#size < this.options.maxWindow) {
			this.#size++;
		}
	}

	/** A tick `elapsedMs` after the last: the window follows the rate measured since. */
	tick(elapsedMs: number): void {
		if (elapsedMs > 0 && this.#bytesSinceTick > 0) {
			const bytesPerSecond = (this.#bytesSinceTick * 1000) / elapsedMs;
			const target = Math.ceil((bytesPerSecond * this.options.queueSeconds) / blockLength);
			this.#size = Math.min(this.options.maxWindow, Math.max(this.options.minWindow, target, this.#size));
			this.#slowStart = false;
		}

		this.#bytesSinceTick = 0;
	}
}
