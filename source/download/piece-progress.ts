import {blockLength} from '../codec/messages.js';

/** Bytes of a piece known to be zeros (BEP 47 pad files), piece offsets, `end` exclusive. */
export type KnownZeros = ReadonlyArray<{begin: number; end: number}>;

/** What became of a block handed to `receive`. */
export type BlockReceipt = 'stored' | 'duplicate' | 'misfit';

/** A block may be asked of this many peers at once, in endgame. */
const maxRequestsPerBlock = 255;

/**
 * One piece being downloaded: its buffer, which blocks have arrived, and how many peers each
 * missing block is asked of. Owned by one peer at a time; when that peer goes, it returns to the
 * picker with its blocks kept. In endgame other peers ask for its missing blocks too.
 */
export class PieceProgress {
	readonly blockCount: number;
	/** Peers that sent blocks of this piece: on a hash failure, each gets a strike. */
	readonly contributors = new Set<string>();
	/** When a peer first picked it (scheduler time): its download time runs from here, across hand-overs. */
	startedAt: number | undefined;
	readonly #received: Uint8Array;
	/** Who sent each block: a failed piece from several peers is judged block by block. */
	readonly #senders: Array<string | undefined>;
	/** Outstanding requests per block, from the owner and (in endgame) from other peers. */
	readonly #requested: Uint8Array;
	#receivedCount = 0;
	/** Blocks that are pad bytes to their end: held from the start, never asked for. */
	readonly #knownBlocks: number;
	/** Per block, the bytes to ask for: less than its size when it ends in pad bytes. */
	readonly #askLengths: Uint32Array | undefined;
	readonly #knownZeros: KnownZeros;
	/** No block below this one is free to claim: keeps claiming linear over a whole piece. */
	#claimFrom = 0;
	#buffer: Buffer | undefined;

	/**
	 * `knownZeros`: pad bytes of this piece. A block whose bytes are pad bytes from some point to
	 * its end is asked for only up to there (a request of less than 16 KiB, as for a short last
	 * block); one that is pad bytes through is held from the start. Pad files are aligned so that
	 * they end a piece, so this covers them; pad bytes followed by data in the same block are
	 * asked for with it, as libtorrent does.
	 */
	constructor(
		readonly index: number,
		readonly length: number,
		readonly allocate: (length: number) => Buffer = (size) => Buffer.allocUnsafe(size),
		knownZeros: KnownZeros = [],
	) {
		this.blockCount = Math.ceil(length / blockLength);
		this.#received = new Uint8Array(this.blockCount);
		this.#requested = new Uint8Array(this.blockCount);
		this.#senders = new Array<string | undefined>(this.blockCount);
		this.#knownZeros = knownZeros;
		this.#askLengths = knownZeros.length > 0 ? this.#lengthsToAsk(knownZeros) : undefined;
		let known = 0;
		for (let block = 0; block < this.blockCount; block++) {
			if (this.#askLengths?.[block] === 0) {
				this.#received[block] = 1;
				known++;
			}
		}

		this.#knownBlocks = known;
		this.#receivedCount = known;
	}

	/** Each block's size less the pad bytes that run to its end. */
	#lengthsToAsk(knownZeros: KnownZeros): Uint32Array {
		const lengths = new Uint32Array(this.blockCount);
		for (let block = 0; block < this.blockCount; block++) {
			const start = block * blockLength;
			let end = start + this.#fullSize(block);
			// Ranges are in order and do not overlap: walk back from the block's end.
			for (let range = knownZeros.length - 1; range >= 0; range--) {
				const zeros = knownZeros[range];
				if (zeros && zeros.begin < end && zeros.end >= end) {
					end = Math.max(start, zeros.begin);
				}
			}

			lengths[block] = end - start;
		}

		return lengths;
	}

	#fullSize(block: number): number {
		return Math.min(blockLength, this.length - block * blockLength);
	}

	senderOf(block: number): string | undefined {
		return this.#senders[block];
	}

	/** True until the first block arrives: such a piece holds no data worth keeping. */
	get empty(): boolean {
		return this.#receivedCount === this.#knownBlocks;
	}

	get complete(): boolean {
		return this.#receivedCount === this.blockCount;
	}

	/** The assembled piece; only meaningful once `complete`. Its pad bytes are zeros from the start. */
	get data(): Buffer {
		if (!this.#buffer) {
			// A reused buffer holds an earlier piece: the bytes nobody will send must be cleared.
			this.#buffer = this.allocate(this.length);
			for (const {begin, end} of this.#knownZeros) {
				this.#buffer.fill(0, begin, end);
			}
		}

		return this.#buffer;
	}

	/** Hands the buffer over (to be reused) once the piece is written or thrown away; this piece is done with. */
	takeData(): Buffer | undefined {
		const buffer = this.#buffer;
		this.#buffer = undefined;
		return buffer;
	}

	/** The bytes to ask for of `block` (and that a peer's copy of it must have). */
	blockSize(block: number): number {
		return this.#askLengths?.[block] ?? this.#fullSize(block);
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

	/**
	 * Endgame, for a peer that does not own this piece: the missing block asked of the fewest
	 * peers (perhaps none yet) and not of this one, marked as asked once more; -1 when none is left.
	 */
	claimDuplicate(askedByUs: (block: number) => boolean): number {
		let best = -1;
		let fewest = maxRequestsPerBlock;
		for (let block = 0; block < this.blockCount && fewest > 0; block++) {
			const requests = this.#requested[block] ?? 0;
			if (this.#received[block] === 0 && requests < fewest && !askedByUs(block)) {
				best = block;
				fewest = requests;
			}
		}

		if (best >= 0) {
			this.#requested[best] = fewest + 1;
		}

		return best;
	}

	isRequested(block: number): boolean {
		return (this.#requested[block] ?? 0) > 0 && this.#received[block] === 0;
	}

	/** Forgets one request (choke, timeout, reject): once nobody asks for it, the block can be claimed again. */
	unclaimBlock(block: number): void {
		const requests = this.#requested[block] ?? 0;
		if (this.#received[block] === 0 && requests > 0) {
			this.#requested[block] = requests - 1;
			if (requests === 1) {
				this.#claimFrom = Math.min(this.#claimFrom, block);
			}
		}
	}

	/** True while any missing block is asked of some peer. */
	get asked(): boolean {
		for (let block = 0; block < this.blockCount; block++) {
			if (this.isRequested(block)) {
				return true;
			}
		}

		return false;
	}

	/** Whether `block` is in (received, or known zeros from the start). */
	isReceived(block: number): boolean {
		return this.#received[block] === 1;
	}

	/**
	 * Marks `block` received whose bytes the sender already wrote into `data` at their place (a
	 * web seed's answer is cut into the piece buffer as it streams in, with no copy on the way):
	 * `duplicate` if it was in already, and then the sender must not have written over it.
	 */
	receiveInPlace(block: number, peer: string): BlockReceipt {
		if (block < 0 || block >= this.blockCount) {
			return 'misfit';
		}

		if (this.#received[block] === 1) {
			return 'duplicate';
		}

		this.#received[block] = 1;
		this.#receivedCount++;
		this.#senders[block] = peer;
		this.contributors.add(peer);
		return 'stored';
	}

	/**
	 * Stores a block once, copied into the piece buffer. Whether it was asked for is the
	 * receiving peer's business; here a block is a `misfit` (wrong offset or length) or a
	 * `duplicate` (an endgame copy that lost the race).
	 */
	receive(begin: number, block: Buffer, peer: string): BlockReceipt {
		if (begin % blockLength !== 0) {
			return 'misfit';
		}

		const index = begin / blockLength;
		if (index >= this.blockCount || block.length !== this.blockSize(index)) {
			return 'misfit';
		}

		if (this.#received[index] === 1) {
			return 'duplicate';
		}

		block.copy(this.data, begin);
		this.#received[index] = 1;
		this.#receivedCount++;
		this.#senders[index] = peer;
		this.contributors.add(peer);
		return 'stored';
	}
}
