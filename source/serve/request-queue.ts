/** A block the peer asked for: `length` bytes at `begin` in piece `index` (BEP 3's request and cancel). */
export type BlockRequest = {index: number; begin: number; length: number};

/**
 * The peer's requests in the order they came, keyed by block: a cancel finds its request in
 * one look-up rather than a scan, so a flood of requests and cancels costs O(1) each. A
 * request's key is its offset in the torrent (`index × pieceLength + begin`, checked to lie
 * inside its piece first), so two requests for the same offset are one block: a repeat is
 * answered by the one block sent for the first.
 */
export class RequestQueue {
	/** Arrival order; cancelled requests stay behind as gaps, skipped when reached and compacted away. */
	#order: BlockRequest[] = [];
	#head = 0;
	readonly #queued = new Map<number, BlockRequest>();

	constructor(readonly pieceLength: number) {}

	get size(): number {
		return this.#queued.size;
	}

	/** Entries held in arrival order, the served and cancelled ones included until compaction drops them. */
	get backlog(): number {
		return this.#order.length;
	}

	#key(request: BlockRequest): number {
		return request.index * this.pieceLength + request.begin;
	}

	/** False when a request for this block is already queued. */
	add(request: BlockRequest): boolean {
		const key = this.#key(request);
		if (this.#queued.has(key)) {
			return false;
		}

		this.#queued.set(key, request);
		this.#order.push(request);
		// Gaps left by cancels are dropped once they outnumber the live requests: amortised O(1).
		if (this.#order.length - this.#head > 2 * this.#queued.size + 64) {
			this.#compact();
		}

		return true;
	}

	/** Removes the queued request the cancel names (the same block and length); false if none. */
	cancel(request: BlockRequest): boolean {
		const key = this.#key(request);
		const queued = this.#queued.get(key);
		if (queued?.length !== request.length) {
			return false;
		}

		this.#queued.delete(key);
		return true;
	}

	/** The oldest queued request, taken off the queue. */
	shift(): BlockRequest | undefined {
		while (this.#head < this.#order.length) {
			const request = this.#order[this.#head++] as BlockRequest;
			const key = this.#key(request);
			// A request cancelled (and perhaps asked again later, which queued it anew) is a gap here.
			if (this.#queued.get(key) === request) {
				this.#queued.delete(key);
				if (this.#head > 1024 && this.#head * 2 > this.#order.length) {
					this.#compact();
				}

				return request;
			}
		}

		this.#order = [];
		this.#head = 0;
		return undefined;
	}

	/** Empties the queue, returning what was queued in the order it came. */
	clear(): Iterable<BlockRequest> {
		const queued = [...this.#queued.values()];
		this.#queued.clear();
		this.#order = [];
		this.#head = 0;
		return queued;
	}

	/** For tests: every queued request waits once in the arrival order (libtorrent's `check_invariant`). */
	checkInvariant(): void {
		if (this.#head > this.#order.length) {
			throw new Error(`head ${this.#head} beyond the ${this.#order.length} requests in order`);
		}

		let live = 0;
		const seen = new Set<number>();
		for (let position = this.#head; position < this.#order.length; position++) {
			const request = this.#order[position] as BlockRequest;
			const key = this.#key(request);
			if (this.#queued.get(key) === request) {
				if (seen.has(key)) {
					throw new Error(`block ${key} waits twice in the arrival order`);
				}

				seen.add(key);
				live++;
			}
		}

		if (live !== this.#queued.size) {
			throw new Error(`${this.#queued.size} queued, ${live} of them in the arrival order`);
		}
	}

	#compact(): void {
		const live: BlockRequest[] = [];
		for (let position = this.#head; position < this.#order.length; position++) {
			const request = this.#order[position] as BlockRequest;
			if (this.#queued.get(this.#key(request)) === request) {
				live.push(request);
			}
		}

		this.#order = live;
		this.#head = 0;
	}
}
