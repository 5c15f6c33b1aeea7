import {blockLength} from '../codec/messages.js';
import type {PieceProgress} from '../download/piece-progress.js';

/** What a chunk of a web seed's answer did: blocks stored (endgame copies elsewhere may be cancelled), pieces it completed. */
export type Assembled = {stored: Array<[PieceProgress, number]>; completed: PieceProgress[]};

/**
 * Cuts a web seed's answers for a run of consecutive pieces into the pieces' blocks, writing the
 * bytes straight into each piece's buffer as they stream in (no copy on the way: at a gigabyte a
 * second, every copy counts). The bytes come in payload order, a range per file, with gaps where
 * pad files (BEP 47) were not asked for: the piece buffer holds their zeros from the start. A
 * block is marked received once its last byte to ask for is in, as a peer's block would be. A
 * block a peer sent first (endgame) is never written over, so what a hash failure blames is
 * what was sent; a piece already complete is never written to at all: its buffer may be another
 * piece's by then.
 */
export class RunAssembler {
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
			const end = Math.min(this.#blockEnd(), this.#cursor + chunk.length - at);
			const taken = end - this.#cursor;
			if (!piece || taken <= 0) {
				// Past the run, or where the run asks for nothing (pad bytes at a block's end): more than a range holds.
				return;
			}

			if (!piece.complete && !piece.isReceived(this.#block)) {
				const pieceStart = piece.index * this.pieceLength;
				chunk.copy(piece.data, this.#cursor - pieceStart, at, at + taken);
			}

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
	}

	/** Where the current block's bytes to ask for end, in the payload. */
	#blockEnd(): number {
		const piece = this.pieces[this.#piece];
		if (!piece) {
			return 0;
		}

		return piece.index * this.pieceLength + this.#block * blockLength + piece.blockSize(this.#block);
	}

	#deliver(into: Assembled): void {
		const piece = this.pieces[this.#piece];
		const block = this.#block;
		this.#piece = -1;
		this.#block = -1;
		if (!piece || piece.complete) {
			return;
		}

		if (piece.receiveInPlace(block, this.source) === 'stored') {
			into.stored.push([piece, block]);
			if (piece.complete) {
				into.completed.push(piece);
			}
		}
	}
}
