import {Bitfield} from '../codec/bitfield.js';
import {PieceAvailability} from './piece-availability.js';
import type {PieceBufferPool} from './piece-buffers.js';
import {checkPickerInvariant, PieceState} from './piece-picker-invariant.js';
import {type KnownZeros, PieceProgress} from './piece-progress.js';
import {mostUrgentNeeded, rarestNeeded, type SearchablePieces} from './piece-search.js';
import {WantedPieces} from './wanted-pieces.js';

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

/**
 * What the picker reports as it happens. It keeps no subscribers itself: `PieceSignals` turns
 * these calls into Observables for the peers' stages.
 */
export type PickerListener = {
	/** Work became available again (a piece released or failed, or newly wanted): idle peers look again. */
	workAvailable(): void;
	/** A piece passed its hash and is on disk. */
	pieceVerified(index: number): void;
	/** Every wanted piece is done; said once. */
	downloadComplete(): void;
	/** Endgame: a block was stored, and every other peer asked for it may cancel. */
	blockArrived(piece: PieceProgress, block: number): void;
};

const silent: PickerListener = {
	workAvailable: () => undefined,
	pieceVerified: () => undefined,
	downloadComplete: () => undefined,
	blockArrived: () => undefined,
};

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
	/** Which pieces to fetch and how urgently; every piece at one priority when absent. */
	wanted?: WantedPieces;
	/** Who hears of work, verified pieces and endgame blocks (a `PieceSignals`); nobody when absent. */
	listener?: PickerListener;
	/** Run `checkInvariant` after every change (O(pieces) each): `TORRENT_RX_CHECK_INVARIANTS=1`. */
	checkInvariants?: boolean;
	/** Each piece's pad bytes (BEP 47), never asked of peers; none when absent. */
	knownZeros?: (index: number) => KnownZeros;
	/** Each piece's bytes but its pad bytes, for `doneBytes`; its whole size when absent. */
	userBytes?: (index: number) => number;
};

/**
 * The shared work pool of a download: which pieces are still needed, how many peers have each
 * (rarest first), and which half-done pieces wait for a new owner. Synchronous and free of I/O:
 * peers call it as they need work, the verifier as pieces pass or fail. As libtorrent's
 * `piece_picker`, asking which piece a peer would get (`nextPiece`) changes nothing; starting it
 * (`markDownloading`) does.
 */
export class PiecePicker {
	readonly pieceCount: number;
	/** The pieces we have, as our bitfield message says. */
	readonly have: Bitfield;
	readonly wanted: WantedPieces;
	readonly listener: PickerListener;
	readonly #state: Uint8Array;
	/** The wanted pieces' priorities, read in the pick loop: 0 is not wanted. */
	readonly #priorities: Uint8Array;
	readonly #availability: PieceAvailability;
	readonly #search: SearchablePieces;
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
	readonly #checkInvariants: boolean;
	readonly #knownZeros: ((index: number) => KnownZeros) | undefined;
	/** What a piece adds to `doneBytes` (`PickerOptions.userBytes`). */
	readonly userBytes: (index: number) => number;
	#bytesInFlight = 0;
	#doneCount = 0;
	#doneBytes = 0;
	/** Peers that let us request (unchoked us): the memory budget is shared between them. */
	#sendingPeers = 0;
	/** Wanted pieces nobody has started: when none is left, the download is in endgame. */
	#neededCount: number;
	/** Wanted pieces not done nor being verified: some peer has one of these, or is useless to us. */
	#lackingCount: number;
	/** Wanted pieces not done: none left, the download is complete. */
	#remainingCount: number;
	/** Where the next pick starts looking. */
	#cursor = 0;
	#picks = 0;
	/** Where the next of the first few picks starts: drawn when the one before is made, so a query draws nothing. */
	#randomStart: number;

	constructor(
		readonly pieceSize: (index: number) => number,
		pieceCount: number,
		options: PickerOptions,
	) {
		this.pieceCount = pieceCount;
		this.#state = new Uint8Array(pieceCount);
		this.wanted = options.wanted ?? new WantedPieces(pieceCount);
		if (this.wanted.pieceCount !== pieceCount) {
			throw new RangeError(
				`wanted pieces for ${this.wanted.pieceCount} pieces, the torrent has ${pieceCount}`,
			);
		}

		this.#priorities = this.wanted.priorities;
		this.listener = options.listener ?? silent;
		this.#availability = new PieceAvailability(
			pieceCount,
			(index) => this.#state[index] === PieceState.Needed && this.#priorities[index] !== 0,
		);
		this.#search = {states: this.#state, priorities: this.#priorities, availability: this.#availability};
		this.#random = options.random ?? Math.random;
		this.#randomStart = Math.floor(this.#random() * pieceCount);
		this.#maxBytesInFlight = options.maxBytesInFlight;
		this.#ceiling = options.maxBytesInFlight + Math.floor(options.maxBytesInFlight / 4);
		this.#buffers = options.buffers;
		const buffers = options.buffers;
		this.#allocate = buffers ? (length) => buffers.take(length) : undefined;
		this.#checkInvariants = options.checkInvariants ?? false;
		this.#knownZeros = options.knownZeros;
		this.userBytes = options.userBytes ?? pieceSize;
		this.have = new Bitfield(pieceCount);
		this.#neededCount = pieceCount;
		this.#lackingCount = pieceCount;
		this.#remainingCount = pieceCount;
		if (options.have || !this.wanted.uniform) {
			this.#countStart(options.have);
		}

		this.wanted.watch((index, before, after) => this.#priorityChanged(index, before, after));
		if (this.complete) {
			this.listener.downloadComplete();
		}

		this.#checked();
	}

	get doneCount(): number {
		return this.#doneCount;
	}

	get doneBytes(): number {
		return this.#doneBytes;
	}

	/** Every wanted piece is done (a piece not wanted never counts). */
	get complete(): boolean {
		return this.#remainingCount === 0;
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

	/** True when the peer has a piece we still need: wanted, and neither done nor being verified. */
	wants(index: number): boolean {
		const state = this.#state[index];
		return this.#priorities[index] !== 0 && state !== PieceState.Done && state !== PieceState.Verifying;
	}

	isInteresting(peerPieces: Bitfield): boolean {
		if (peerPieces.complete) {
			return this.#lackingCount > 0;
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

		this.#checked();
	}

	addHave(index: number): void {
		this.#availability.add(index, 1);
		this.#checked();
	}

	/**
	 * Which piece a peer with `peerPieces` would get, or -1; changes nothing (libtorrent's
	 * `pick_pieces`). First a wanted half-done piece it has, then the needed piece of the highest
	 * priority and, among those, the rarest. Among equally rare pieces the first after the last pick
	 * wins (the first few picks start at random places); the search stops at a piece no needed piece
	 * is rarer than, so it is short however many pieces there are. -1 when there is nothing it can
	 * help with, or when the budget is spent or the peer already holds its share of it
	 * (`ownedBytes`; the budget divided between the peers that let us request). A peer with
	 * nothing may start one piece over the budget, up to a quarter more: taken first come, first
	 * served, the first peer to open its window took the whole budget and the others sat idle, and
	 * a quarter of the rate of four slow seeders was lost so. Unlimited, that allowance let every
	 * peer hold a piece: hundreds of peers, hundreds of pieces of up to 512 MiB. When nothing is
	 * in flight, a piece bigger than the whole budget may still start.
	 */
	nextPiece(peerPieces: Bitfield, ownedBytes = 0): number {
		if (this.#orphans.size > 0) {
			for (const index of this.#orphans.keys()) {
				if (peerPieces.has(index) && this.#priorities[index] !== 0) {
					return index;
				}
			}
		}

		const start = this.#picks < randomStarts ? this.#randomStart : this.#cursor;
		// Every piece at one priority (the default): rarity alone ranks, as before priorities.
		const best = this.wanted.uniform
			? rarestNeeded(this.#search, peerPieces, start)
			: mostUrgentNeeded(this.#search, peerPieces, start, this.wanted.topPriority);
		return best >= 0 && this.#withinBudget(this.pieceSize(best), ownedBytes) ? best : -1;
	}

	/**
	 * Starts piece `index` for a peer (libtorrent's `mark_as_downloading`): an orphan is handed
	 * over with its blocks, a needed piece gets a fresh progress and counts as in flight.
	 */
	markDownloading(index: number): PieceProgress {
		if (this.#state[index] !== PieceState.Needed) {
			return this.#adopt(index);
		}

		const size = this.pieceSize(index);
		if (this.#priorities[index] !== 0) {
			this.#availability.neededChanged(index, -1);
			this.#neededCount--;
		}

		this.#state[index] = PieceState.InProgress;
		this.#bytesInFlight += size;
		this.#cursor = (index + 1) % this.pieceCount;
		this.#picks++;
		if (this.#picks < randomStarts) {
			this.#randomStart = Math.floor(this.#random() * this.pieceCount);
		}

		const progress = new PieceProgress(index, size, this.#allocate, this.#knownZeros?.(index));
		this.#inProgress.set(index, progress);
		this.#checked();
		return progress;
	}

	/** An orphan goes to a new owner, its blocks with it. */
	#adopt(index: number): PieceProgress {
		const orphan = this.#orphans.get(index);
		if (!orphan) {
			throw new RangeError(`piece ${index} cannot start: it is neither needed nor an orphan`);
		}

		this.#orphans.delete(index);
		this.#checked();
		return orphan;
	}

	/**
	 * Starts piece `index` for a source that takes runs of pieces in order (a web seed, BEP 19):
	 * when it is wanted, nobody has started it, and the budget allows it as `nextPiece` would;
	 * undefined otherwise, and the run ends there.
	 */
	claimNext(index: number, ownedBytes: number): PieceProgress | undefined {
		const claimable =
			index >= 0 &&
			index < this.pieceCount &&
			this.#state[index] === PieceState.Needed &&
			this.#priorities[index] !== 0 &&
			this.#withinBudget(this.pieceSize(index), ownedBytes);
		return claimable ? this.markDownloading(index) : undefined;
	}

	/** `nextPiece`, then `markDownloading` it: work for a peer, or undefined when there is none. */
	pick(peerPieces: Bitfield, ownedBytes = 0): PieceProgress | undefined {
		const index = this.nextPiece(peerPieces, ownedBytes);
		return index < 0 ? undefined : this.markDownloading(index);
	}

	/** A peer unchoked us (true) or choked us or left after an unchoke (false). */
	peerSending(sending: boolean): void {
		this.#sendingPeers = Math.max(0, this.#sendingPeers + (sending ? 1 : -1));
		this.#checked();
	}

	/**
	 * Endgame work for a peer with `peerPieces`: a block of a started, wanted piece that is asked
	 * of someone else but has not arrived, from the oldest piece first.
	 */
	pickDuplicate(
		peerPieces: Bitfield,
		askedByUs: (index: number, block: number) => boolean,
	): [PieceProgress, number] | undefined {
		if (!this.endgame) {
			return undefined;
		}

		for (const [index, progress] of this.#inProgress) {
			if (peerPieces.has(index) && this.#priorities[index] !== 0) {
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
			this.listener.blockArrived(piece, block);
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
			this.#neededAgain(progress.index);
			this.#bytesInFlight -= progress.length;
			this.#inProgress.delete(progress.index);
		} else {
			this.#orphans.set(progress.index, progress);
		}

		this.#checked();
		this.listener.workAvailable();
	}

	/** Every block is in: the piece is hashed next and no peer may pick it meanwhile. */
	markVerifying(index: number): void {
		const state = this.#state[index];
		if (state === undefined || state === PieceState.Verifying || state === PieceState.Done) {
			return;
		}

		if (state === PieceState.Needed) {
			this.#notNeeded(index);
			this.#bytesInFlight += this.pieceSize(index);
		}

		if (this.#priorities[index] !== 0) {
			this.#lackingCount--;
		}

		this.#state[index] = PieceState.Verifying;
		this.#inProgress.delete(index);
		this.#orphans.delete(index);
		this.#checked();
	}

	/** The piece passed its hash and is on disk. */
	markDone(index: number): void {
		const state = this.#state[index];
		if (state === undefined || state === PieceState.Done) {
			return;
		}

		const wasComplete = this.complete;
		if (state === PieceState.Needed) {
			this.#notNeeded(index);
		} else {
			this.#bytesInFlight -= this.pieceSize(index);
		}

		if (this.#priorities[index] !== 0) {
			this.#remainingCount--;
			if (state !== PieceState.Verifying) {
				this.#lackingCount--;
			}
		}

		this.#inProgress.delete(index);
		this.#orphans.delete(index);
		this.#state[index] = PieceState.Done;
		this.have.set(index);
		this.#doneCount++;
		this.#doneBytes += this.userBytes(index);
		this.#checked();
		this.listener.pieceVerified(index);
		if (!wasComplete && this.complete) {
			this.listener.downloadComplete();
		}

		this.listener.workAvailable();
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
		const state = this.#state[index];
		if (state === undefined || state === PieceState.Done || state === PieceState.Needed) {
			return;
		}

		if (state === PieceState.Verifying && this.#priorities[index] !== 0) {
			this.#lackingCount++;
		}

		this.#orphans.delete(index);
		this.#inProgress.delete(index);
		this.#bytesInFlight -= this.pieceSize(index);
		this.#state[index] = PieceState.Needed;
		this.#neededAgain(index);
		this.#checked();
		this.listener.workAvailable();
	}

	/**
	 * libtorrent's `check_invariant`: recounts every counter kept by hand (done, needed, lacking,
	 * remaining, bytes in flight), the maps and the have bitfield from the piece states, and the
	 * availability's books, and throws an error naming the first that differs. O(pieces).
	 */
	checkInvariant(): void {
		checkPickerInvariant({
			pieceCount: this.pieceCount,
			pieceSize: this.pieceSize,
			userBytes: this.userBytes,
			state: this.#state,
			priorities: this.#priorities,
			have: this.have,
			orphans: this.#orphans,
			inProgress: this.#inProgress,
			doneCount: this.#doneCount,
			doneBytes: this.#doneBytes,
			neededCount: this.#neededCount,
			lackingCount: this.#lackingCount,
			remainingCount: this.#remainingCount,
			bytesInFlight: this.#bytesInFlight,
			sendingPeers: this.#sendingPeers,
		});
		this.#availability.checkInvariant();
	}

	#checked(): void {
		if (this.#checkInvariants) {
			this.checkInvariant();
		}
	}

	/** The counters at the start, for pieces already on disk and pieces not wanted. */
	#countStart(have: Bitfield | undefined): void {
		for (let index = 0; index < this.pieceCount; index++) {
			const wanted = this.#priorities[index] !== 0;
			if (!wanted) {
				// Counted as needed by the availability until now, which the state does not say yet.
				this.#availability.neededChanged(index, -1);
				this.#neededCount--;
				this.#lackingCount--;
				this.#remainingCount--;
			}

			if (have?.has(index)) {
				this.#state[index] = PieceState.Done;
				this.have.set(index);
				this.#doneCount++;
				this.#doneBytes += this.userBytes(index);
				if (wanted) {
					this.#neededCount--;
					this.#lackingCount--;
					this.#remainingCount--;
					this.#availability.neededChanged(index, -1);
				}
			}
		}
	}

	/** A needed piece leaves the needed ones (started, or finished without us). */
	#notNeeded(index: number): void {
		if (this.#priorities[index] !== 0) {
			this.#neededCount--;
			this.#availability.neededChanged(index, -1);
		}
	}

	/** A piece is needed again (released empty, or failed), its state already Needed. */
	#neededAgain(index: number): void {
		if (this.#priorities[index] !== 0) {
			this.#neededCount++;
			this.#availability.neededChanged(index, 1);
		}
	}

	/**
	 * A piece of `size` fits the budget for a peer holding `ownedBytes`. The pieces a peer holds
	 * leave out those it finished that are still being hashed and written, so the whole budget
	 * bounds them all, and each peer's share keeps it fair.
	 */
	#withinBudget(size: number, ownedBytes: number): boolean {
		const share = this.#maxBytesInFlight / Math.max(1, this.#sendingPeers);
		const after = this.#bytesInFlight + size;
		return ownedBytes > 0
			? ownedBytes + size <= share && after <= this.#maxBytesInFlight
			: after <= this.#ceiling || this.#bytesInFlight === 0;
	}

	/** The wanted pieces changed a priority: a piece that joins or leaves them moves every count it is in. */
	#priorityChanged(index: number, before: number, after: number): void {
		if ((before === 0) === (after === 0)) {
			return;
		}

		const delta = after === 0 ? -1 : 1;
		const state = this.#state[index];
		const wasComplete = this.complete;
		if (state === PieceState.Needed) {
			this.#neededCount += delta;
			this.#availability.neededChanged(index, delta);
		}

		if (state !== PieceState.Done) {
			this.#remainingCount += delta;
			if (state !== PieceState.Verifying) {
				this.#lackingCount += delta;
			}
		}

		this.#checked();
		if (!wasComplete && this.complete) {
			this.listener.downloadComplete();
		} else if (delta > 0) {
			this.listener.workAvailable();
		}
	}
}
