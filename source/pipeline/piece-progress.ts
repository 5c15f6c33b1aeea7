import {blockLength} from '../codec/messages.js';

/**
 * One piece being downloaded: its buffer, which blocks have arrived, and which are asked for.
 * Owned by one peer at a time; when that peer goes, it returns to the picker with its blocks kept.
 */
export class PieceProgress {
	readonly blockCount: number;
	/** Peers that sent blocks of this piece: on a hash failure, each gets a strike. */
	readonly contributors = new Set<string>();
	/** When a peer first picked it (scheduler time): its download time runs from here, across hand-overs. */
	startedAt: number | undefined;
	readonly #received: Uint8Array;
	readonly #requested: Uint8Array;
	#receivedCount = 0;
	/** No block below this one is free to claim: keeps claiming linear over a whole piece. */
	#claimFrom = 0;
	#buffer: Buffer | undefined;

	constructor(
		readonly index: number,
		readonly length: number,
		readonly allocate: (length: number) => Buffer = (size) => Buffer.allocUnsafe(size),
	) {
		this.blockCount = Math.ceil(length / blockLength);
		this.#received = new Uint8Array(this.blockCount);
		this.#requested = new Uint8Array(this.blockCount);
	}

	/** True until the first block arrives: such a piece holds no data worth keeping. */
	get empty(): boolean {
		return this.#receivedCount === 0;
	}

	get complete(): boolean {
		return this.#receivedCount === this.blockCount;
	}

	/** The assembled piece; only meaningful once `complete`. */
	get data(): Buffer {
		this.#buffer ??= this.allocate(this.length);
		return this.#buffer;
	}

	/** Hands the buffer over (to be reused) once the piece is written or thrown away; this piece is done with. */
	takeData(): Buffer | undefined {
		const buffer = this.#buffer;
		this.#buffer = undefined;
		return buffer;
	}

	blockSize(block: number): number {
		return Math.min(blockLength, this.length - block * blockLength);
	}

	/** The next block neither received nor asked for, marked as asked for; -1 when none is left. */
	claimBlock(): number {
		for (let block = this.#claimFrom; block < this.blockCount; block++) {
			if (this.#received[block] === 0 && this.#requested[block] === 0) {
				this.#requested[block] = 1;
				this.#claimFrom = block + 1;
				return block;
			}
		}

		this.#claimFrom = this.blockCount;
		return -1;
	}

	isRequested(block: number): boolean {
		return this.#requested[block] === 1 && this.#received[block] === 0;
	}

	/** Forgets a request (choke, timeout, hand-over): the block can be asked for again. */
	unclaimBlock(block: number): void {
		if (this.#received[block] === 0) {
			this.#requested[block] = 0;
			this.#claimFrom = Math.min(this.#claimFrom, block);
		}
	}

	/** Forgets every outstanding request at once; received blocks are kept. */
	unclaimAll(): void {
		this.#requested.set(this.#received);
		this.#claimFrom = 0;
	}

	/**
	 * Stores a block once, copied into the piece buffer. Returns false for a block that does not
	 * fit this piece (wrong offset or length) or that was not asked for.
	 */
	receive(begin: number, block: Buffer, peer: string): boolean {
		if (begin % blockLength !== 0) {
			return false;
		}

		const index = begin / blockLength;
		if (index >= this.blockCount || block.length !== this.blockSize(index) || !this.isRequested(index)) {
			return false;
		}

		block.copy(this.data, begin);
		this.#received[index] = 1;
		this.#receivedCount++;
		this.contributors.add(peer);
		return true;
	}
}
