import {blockLength} from '../codec/messages.js';
import type {PieceProgress} from '../download/piece-progress.js';

/** What a chunk of a web seed's answer did: blocks stored (endgame copies elsewhere may be cancelled), pieces it completed. */
export type Assembled = {stored: Array<[PieceProgress, number]>; completed: PieceProgress[]};

/**
 * Cuts a web seed's answers for a run of consecutive pieces into the pieces' blocks. The bytes
 * come in payload order, a range per file, with gaps where pad files (BEP 47) were not asked for;
 * a gap is zeros, which is what the scratch block holds until bytes land in it. A block goes to
 * its piece once its last byte to ask for is in, so a piece's blocks are stored as they would be
 * from a peer, and a block a peer sent first (endgame) is only a duplicate. A piece already
 * complete is never written to: its buffer may be another piece's by then.
 */
export class RunAssembler {
	readonly #scratch = Buffer.alloc(blockLength);
	/** The block being filled: its piece (index in the run) and number, or -1 for none. */
	#piece = -1;
	#block = -1;
	/** Where the next byte lands in the payload. */
	#cursor = 0;

	constructor(
		readonly pieceLength: number,
		readonly pieces: readonly PieceProgress[],
		readonly source: string,
	) {}

	/** The next range's bytes start at `payloadOffset`: a block left behind (its end was pad) is stored first. */
	startRange(payloadOffset: number, into: Assembled): void {
		if (this.#piece >= 0 && payloadOffset >= this.#blockEnd()) {
			this.#deliver(into);
		}

		this.#cursor = payloadOffset;
	}

	/** Places `chunk` at the cursor, storing each block it completes. */
	write(chunk: Buffer, into: Assembled): void {
		let at = 0;
		while (at < chunk.length) {
			this.#enterBlockAt(this.#cursor, into);
			const piece = this.pieces[this.#piece];
			if (!piece) {
				// Past the run: the range was planned from these pieces, so this is more than asked.
				return;
			}

			const blockStart = this.#blockStartInPayload();
			const end = Math.min(this.#blockEnd(), this.#cursor + chunk.length - at);
			const taken = end - this.#cursor;
			if (taken <= 0) {
				// Bytes where the run asks for none (pad bytes at a block's end): more than a range holds.
				return;
			}

			chunk.copy(this.#scratch, this.#cursor - blockStart, at, at + taken);
			at += taken;
			this.#cursor = end;
			if (this.#cursor >= this.#blockEnd()) {
				this.#deliver(into);
			}
		}
	}

	/** The answers are all in: a block still open (its end was pad) is stored. */
	finish(into: Assembled): void {
		if (this.#piece >= 0) {
			this.#deliver(into);
		}
	}

	/** Makes the block that holds payload offset `position` the current one, storing the one before if it is another. */
	#enterBlockAt(position: number, into: Assembled): void {
		const first = this.pieces[0]?.index ?? 0;
		const piece = Math.floor(position / this.pieceLength) - first;
		const block = Math.floor((position % this.pieceLength) / blockLength);
		if (piece === this.#piece && block === this.#block) {
			return;
		}

		if (this.#piece >= 0) {
			this.#deliver(into);
		}

		this.#piece = piece;
		this.#block = block;
		this.#scratch.fill(0);
	}

	#blockStartInPayload(): number {
		const index = this.pieces[this.#piece]?.index ?? 0;
		return index * this.pieceLength + this.#block * blockLength;
	}

	/** Where the current block's bytes to ask for end, in the payload. */
	#blockEnd(): number {
		const piece = this.pieces[this.#piece];
		return this.#blockStartInPayload() + (piece?.blockSize(this.#block) ?? 0);
	}

	#deliver(into: Assembled): void {
		const piece = this.pieces[this.#piece];
		const block = this.#block;
		this.#piece = -1;
		this.#block = -1;
		if (!piece || piece.complete) {
			return;
		}

		const length = piece.blockSize(block);
		if (piece.receive(block * blockLength, this.#scratch.subarray(0, length), this.source) === 'stored') {
			into.stored.push([piece, block]);
			if (piece.complete) {
				into.completed.push(piece);
			}
		}
	}
}
