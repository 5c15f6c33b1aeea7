import type {PiecePicker} from './piece-picker.js';
import type {PieceProgress} from './piece-progress.js';

/** Requests that went unanswered before a choke, a cancel or a timeout; their blocks may still arrive. */
const maxStaleRequests = 4096;

/** What a block that arrived was to us. */
export type BlockOrigin = 'asked' | 'given-up' | 'unasked';

/**
 * One peer's books of what it was asked for: the blocks requested and not yet in, those given
 * up on that may still land, the pieces it fills (owned) and, in endgame, the other peers'
 * pieces it was asked blocks of as well (borrowed). Blocks are keyed by piece and block number.
 */
export class RequestLedger {
	readonly #outstanding = new Set<number>();
	readonly #givenUp = new Set<number>();
	readonly #owned = new Map<number, PieceProgress>();
	readonly #borrowed = new Map<number, PieceProgress>();
	/** Owned pieces that still have blocks to ask for, oldest first: finish pieces before starting new ones. */
	#claimable: PieceProgress[] = [];

	constructor(readonly maxBlocksPerPiece: number) {}

	/** Requests out. */
	get size(): number {
		return this.#outstanding.size;
	}

	get ownedCount(): number {
		return this.#owned.size;
	}

	/** A piece this peer was asked blocks of, owned or borrowed. */
	pieceFor(index: number): PieceProgress | undefined {
		return this.#owned.get(index) ?? this.#borrowed.get(index);
	}

	asked(index: number, block: number): boolean {
		return this.#outstanding.has(this.#key(index, block));
	}

	/** A request goes out. */
	add(index: number, block: number): void {
		this.#outstanding.add(this.#key(index, block));
	}

	/** A block came: crossed off if it was asked for, or if it was given up on. */
	settle(index: number, block: number): BlockOrigin {
		const key = this.#key(index, block);
		if (this.#outstanding.delete(key)) {
			return 'asked';
		}

		return this.#givenUp.delete(key) ? 'given-up' : 'unasked';
	}

	/** A piece picked for this peer to fill. */
	own(piece: PieceProgress): void {
		this.#borrowed.delete(piece.index);
		this.#owned.set(piece.index, piece);
		this.#claimable.push(piece);
	}

	/** Endgame: another peer's piece, some of whose blocks this one is asked for too. */
	borrow(piece: PieceProgress): void {
		if (this.#owned.get(piece.index) !== piece) {
			this.#borrowed.set(piece.index, piece);
		}
	}

	/** The next block of an owned piece that nobody is asked for, claimed. */
	claimOwnedBlock(): [PieceProgress, number] | undefined {
		for (let piece = this.#claimable[0]; piece; piece = this.#claimable[0]) {
			const block = piece.claimBlock();
			if (block >= 0) {
				return [piece, block];
			}

			this.#claimable.shift();
		}

		return undefined;
	}

	/** A request withdrawn while its block may still come (a cancel); true if it was out. */
	withdraw(piece: PieceProgress, block: number): boolean {
		const key = this.#key(piece.index, block);
		if (this.pieceFor(piece.index) !== piece || !this.#outstanding.delete(key)) {
			return false;
		}

		this.#giveUp(key);
		return true;
	}

	/** BEP 6: the peer will not send this block. It can be asked for again, first of all if it is ours. */
	rejected(index: number, block: number): void {
		if (this.settle(index, block) !== 'asked') {
			return;
		}

		const piece = this.pieceFor(index);
		piece?.unclaimBlock(block);
		if (piece && this.#owned.get(index) === piece && !this.#claimable.includes(piece)) {
			this.#claimable.unshift(piece);
		}
	}

	/** A piece is finished (here or elsewhere): nothing more to ask or expect of it. */
	forget(piece: PieceProgress): void {
		if (this.#owned.get(piece.index) === piece) {
			this.#owned.delete(piece.index);
		}

		if (this.#borrowed.get(piece.index) === piece) {
			this.#borrowed.delete(piece.index);
		}
	}

	/**
	 * Withdraws every request (their blocks may still land) and hands the owned pieces back to
	 * the pool; a choke (BEP 3) or the peer leaving.
	 */
	releaseAll(picker: PiecePicker): void {
		for (const key of this.#outstanding) {
			this.#giveUp(key);
			const index = Math.floor(key / this.maxBlocksPerPiece);
			this.pieceFor(index)?.unclaimBlock(key % this.maxBlocksPerPiece);
		}

		for (const piece of this.#owned.values()) {
			picker.release(piece);
		}

		this.#outstanding.clear();
		this.#owned.clear();
		this.#borrowed.clear();
		this.#claimable = [];
	}

	/** After an unchoke nothing sent before the choke is still to come. */
	clearGivenUp(): void {
		this.#givenUp.clear();
	}

	#key(index: number, block: number): number {
		return index * this.maxBlocksPerPiece + block;
	}

	#giveUp(key: number): void {
		if (this.#givenUp.size < maxStaleRequests) {
			this.#givenUp.add(key);
		}
	}
}
