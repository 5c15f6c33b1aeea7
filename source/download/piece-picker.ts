import {Subject} from 'rxjs';
import {Bitfield} from '../codec/bitfield.js';
import {PieceAvailability} from './piece-availability.js';
import type {PieceBufferPool} from './piece-buffers.js';
import {PieceProgress} from './piece-progress.js';

enum PieceState {
	Needed = 0,
	/** Owned by a peer, or waiting for one with some blocks already in. */
	InProgress = 1,
	/** Every block is in; being hashed and written. */
	Verifying = 2,
	Done = 3,
}

/**
 * The first picks start at random places, so that peers starting at once fetch different pieces
 * and have something to trade soon; later ones go on from the last pick, so that pieces finish
 * in file order and their writes join into one.
 */
const randomStarts = 4;

const mebibyte = 1024 * 1024;

/**
 * The in-flight budget for pieces of `pieceLength`: four pieces, so that big pieces still come
 * from several peers at once, at least 16 MiB (it keeps four 1 MiB seeders as busy as 24 or 64
 * did; with 16 KiB pieces, 24 MiB kept 1,500 pieces in flight, each with its buffer and its
 * state), at most 256 MiB, but never less than one piece (BEP 3 sets no limit; pieces of up to
 * 512 MiB are accepted).
 */
export const inFlightBudget = (pieceLength: number): number =>
	Math.max(pieceLength, Math.min(256 * mebibyte, Math.max(16 * mebibyte, 4 * pieceLength)));

export type PickerOptions = {
	/** Pieces already verified on disk. */
	have?: Bitfield;
	/**
	 * Memory for piece buffers in flight (downloading, hashing, writing). A peer holding no piece
	 * may go over it by a quarter; beyond that, only a first piece when nothing is in flight.
	 */
	maxBytesInFlight: number;
	random?: () => number;
	/** Where new pieces get their buffers, and written ones return them; fresh buffers when absent. */
	buffers?: PieceBufferPool;
};

/**
 * The shared work pool of a download: which pieces are still needed, how many peers have each
 * (rarest first), and which half-done pieces wait for a new owner. Synchronous and free of I/O:
 * peers call it as they need work, the verifier as pieces pass or fail.
 */
export class PiecePicker {
	readonly pieceCount: number;
	/** Emits when work becomes available again, so idle peers look for more. */
	readonly workAvailable$ = new Subject<void>();
	/** Emits each piece as it is verified and stored, so every peer can be told (`have`); completes with the download. */
	readonly verified$ = new Subject<number>();
	/**
	 * Endgame only: a block arrived, so every other peer that was asked for it sends a cancel,
	 * and a piece finished by another peer is forgotten by its owner.
	 */
	readonly blockArrived$ = new Subject<{piece: PieceProgress; block: number}>();
	/** The pieces we have, as our bitfield message says. */
	readonly have: Bitfield;
	readonly #state: Uint8Array;
	readonly #availability: PieceAvailability;
	/** Half-done pieces with no owner, resumed before anything new is started. */
	readonly #orphans = new Map<number, PieceProgress>();
	/** Every piece with blocks still to come, owned or not, oldest first: where endgame looks for work. */
	readonly #inProgress = new Map<number, PieceProgress>();
	readonly #random: () => number;
	readonly #maxBytesInFlight: number;
	/** What a peer holding nothing may take the pieces in flight up to: a hard bound, however many peers. */
	readonly #ceiling: number;
	readonly #buffers: PieceBufferPool | undefined;
	readonly #allocate: ((length: number) => Buffer) | undefined;
	#bytesInFlight = 0;
	#doneCount = 0;
	#doneBytes = 0;
	/** Peers that let us request (unchoked us): the memory budget is shared between them. */
	#sendingPeers = 0;
	/** Pieces nobody has started: when none is left, the download is in endgame. */
	#neededCount: number;
	/** Pieces not done nor being verified: some peer has one of these, or is useless to us. */
	#wantedCount: number;
	/** Where the next pick starts looking. */
	#cursor = 0;
	#picks = 0;

	constructor(
		readonly pieceSize: (index: number) => number,
		pieceCount: number,
		options: PickerOptions,
	) {
		this.pieceCount = pieceCount;
		this.#state = new Uint8Array(pieceCount);
		this.#availability = new PieceAvailability(
			pieceCount,
			(index) => this.#state[index] === PieceState.Needed,
		);
		this.#random = options.random ?? Math.random;
		this.#maxBytesInFlight = options.maxBytesInFlight;
		this.#ceiling = options.maxBytesInFlight + Math.floor(options.maxBytesInFlight / 4);
		this.#buffers = options.buffers;
		const buffers = options.buffers;
		this.#allocate = buffers ? (length) => buffers.take(length) : undefined;
		this.have = new Bitfield(pieceCount);
		this.#neededCount = pieceCount;
		this.#wantedCount = pieceCount;
		if (options.have) {
			for (let index = 0; index < pieceCount; index++) {
				if (options.have.has(index)) {
					this.#state[index] = PieceState.Done;
					this.have.set(index);
					this.#doneCount++;
					this.#doneBytes += pieceSize(index);
					this.#neededCount--;
					this.#wantedCount--;
					this.#availability.neededChanged(index, -1);
				}
			}
		}

		if (this.complete) {
			this.verified$.complete();
		}
	}

	get doneCount(): number {
		return this.#doneCount;
	}

	get doneBytes(): number {
		return this.#doneBytes;
	}

	get complete(): boolean {
		return this.#doneCount === this.pieceCount;
	}

	get bytesInFlight(): number {
		return this.#bytesInFlight;
	}

	/**
	 * Every missing piece is started: idle peers now ask for blocks already asked of others, so
	 * one slow peer cannot hold the last pieces back.
	 */
	get endgame(): boolean {
		return this.#neededCount === 0 && !this.complete;
	}

	isDone(index: number): boolean {
		return this.#state[index] === PieceState.Done;
	}

	/** True when the peer has a piece we still need. */
	wants(index: number): boolean {
		return this.#state[index] !== PieceState.Done && this.#state[index] !== PieceState.Verifying;
	}

	isInteresting(peerPieces: Bitfield): boolean {
		if (peerPieces.complete) {
			return this.#wantedCount > 0;
		}

		for (let index = 0; index < this.pieceCount; index++) {
			if (peerPieces.has(index) && this.wants(index)) {
				return true;
			}
		}

		return false;
	}

	addAvailability(peerPieces: Bitfield, delta: 1 | -1): void {
		for (let index = 0; index < this.pieceCount; index++) {
			if (peerPieces.has(index)) {
				this.#availability.add(index, delta);
			}
		}
	}

	addHave(index: number): void {
		this.#availability.add(index, 1);
	}

	/**
	 * Work for a peer with `peerPieces`: first a half-done piece it has, then the rarest needed
	 * piece. Among equally rare pieces the first after the last pick wins (the first few picks
	 * start at random places); the search stops at a piece no needed piece is rarer than, so it is
	 * short however many pieces there are. Undefined when there is nothing
	 * it can help with, or when the budget is spent or the peer already holds its share of it
	 * (`ownedBytes`; the budget divided between the peers that let us request). A peer with
	 * nothing may start one piece over the budget, up to a quarter more: taken first come, first
	 * served, the first peer to open its window took the whole budget and the others sat idle, and
	 * a quarter of the rate of four slow seeders was lost so. Unlimited, that allowance let every
	 * peer hold a piece: hundreds of peers, hundreds of pieces of up to 512 MiB. When nothing is
	 * in flight, a piece bigger than the whole budget may still start.
	 */
	pick(peerPieces: Bitfield, ownedBytes = 0): PieceProgress | undefined {
		for (const [index, progress] of this.#orphans) {
			if (peerPieces.has(index)) {
				this.#orphans.delete(index);
				return progress;
			}
		}

		// No needed piece that anyone has is rarer than this: a piece this rare ends the search.
		const rarest = this.#availability.rarest();
		const start = this.#picks < randomStarts ? Math.floor(this.#random() * this.pieceCount) : this.#cursor;
		let best = -1;
		let bestAvailability = Number.POSITIVE_INFINITY;
		for (let step = 0; step < this.pieceCount; step++) {
			const index = (start + step) % this.pieceCount;
			if (this.#state[index] !== PieceState.Needed || !peerPieces.has(index)) {
				continue;
			}

			const availability = this.#availability.of(index);
			if (availability < bestAvailability) {
				best = index;
				bestAvailability = availability;
				if (availability <= rarest) {
					break;
				}
			}
		}

		if (best < 0) {
			return undefined;
		}

		const size = this.pieceSize(best);
		// The pieces a peer holds leave out those it finished that are still being hashed and
		// written, so the whole budget bounds them all, and each peer's share keeps it fair.
		const share = this.#maxBytesInFlight / Math.max(1, this.#sendingPeers);
		const after = this.#bytesInFlight + size;
		const allowed =
			ownedBytes > 0
				? ownedBytes + size <= share && after <= this.#maxBytesInFlight
				: after <= this.#ceiling || this.#bytesInFlight === 0;
		if (!allowed) {
			return undefined;
		}

		this.#availability.neededChanged(best, -1);
		this.#state[best] = PieceState.InProgress;
		this.#bytesInFlight += size;
		this.#neededCount--;
		this.#cursor = (best + 1) % this.pieceCount;
		this.#picks++;
		const progress = new PieceProgress(best, size, this.#allocate);
		this.#inProgress.set(best, progress);
		return progress;
	}

	/** A peer unchoked us (true) or choked us or left after an unchoke (false). */
	peerSending(sending: boolean): void {
		this.#sendingPeers = Math.max(0, this.#sendingPeers + (sending ? 1 : -1));
	}

	/**
	 * Endgame work for a peer with `peerPieces`: a block of a started piece that is asked of
	 * someone else but has not arrived, from the oldest piece first.
	 */
	pickDuplicate(
		peerPieces: Bitfield,
		askedByUs: (index: number, block: number) => boolean,
	): [PieceProgress, number] | undefined {
		if (!this.endgame) {
			return undefined;
		}

		for (const [index, progress] of this.#inProgress) {
			if (peerPieces.has(index)) {
				const block = progress.claimDuplicate((candidate) => askedByUs(index, candidate));
				if (block >= 0) {
					return [progress, block];
				}
			}
		}

		return undefined;
	}

	/** A block was stored: in endgame, the others who were asked for it are told. */
	blockStored(piece: PieceProgress, block: number): void {
		if (this.endgame) {
			this.blockArrived$.next({piece, block});
		}
	}

	/**
	 * A peer lets go of a piece it has not finished, its own requests already withdrawn; its
	 * received blocks, and the requests other peers made in endgame, wait for the next owner.
	 */
	release(progress: PieceProgress): void {
		if (this.#state[progress.index] !== PieceState.InProgress) {
			return;
		}

		if (progress.empty && !progress.asked) {
			this.#state[progress.index] = PieceState.Needed;
			this.#availability.neededChanged(progress.index, 1);
			this.#bytesInFlight -= progress.length;
			this.#neededCount++;
			this.#inProgress.delete(progress.index);
		} else {
			this.#orphans.set(progress.index, progress);
		}

		this.workAvailable$.next();
	}

	/** Every block is in: the piece is hashed next and no peer may pick it meanwhile. */
	markVerifying(index: number): void {
		if (this.#state[index] !== PieceState.Verifying) {
			this.#wantedCount--;
		}

		this.#state[index] = PieceState.Verifying;
		this.#inProgress.delete(index);
		this.#orphans.delete(index);
	}

	/** The piece passed its hash and is on disk. */
	markDone(index: number): void {
		if (this.#state[index] === PieceState.Done) {
			return;
		}

		if (this.#state[index] === PieceState.Needed) {
			this.#neededCount--;
			this.#availability.neededChanged(index, -1);
		} else {
			this.#bytesInFlight -= this.pieceSize(index);
		}

		if (this.#state[index] !== PieceState.Verifying) {
			this.#wantedCount--;
		}

		this.#inProgress.delete(index);
		this.#orphans.delete(index);
		this.#state[index] = PieceState.Done;
		this.have.set(index);
		this.#doneCount++;
		this.#doneBytes += this.pieceSize(index);
		this.verified$.next(index);
		if (this.complete) {
			this.verified$.complete();
		}

		this.workAvailable$.next();
	}

	/** A piece written (or thrown away) gives its buffer back for the next piece. */
	recycle(piece: PieceProgress): void {
		const buffer = piece.takeData();
		if (buffer && this.#buffers) {
			this.#buffers.give(buffer);
		}
	}

	/** The piece failed its hash, or could not be finished: start it again from nothing. */
	markFailed(index: number): void {
		if (this.#state[index] === PieceState.Done || this.#state[index] === PieceState.Needed) {
			return;
		}

		if (this.#state[index] === PieceState.Verifying) {
			this.#wantedCount++;
		}

		this.#orphans.delete(index);
		this.#inProgress.delete(index);
		this.#neededCount++;
		this.#bytesInFlight -= this.pieceSize(index);
		this.#state[index] = PieceState.Needed;
		this.#availability.neededChanged(index, 1);
		this.workAvailable$.next();
	}
}
