import type {Bitfield} from '../codec/bitfield.js';
import {blockLength, type PeerMessage} from '../codec/messages.js';
import {PeerProtocolError, TorrentRxError} from '../errors.js';
import type {RunEvent} from '../events/events.js';
import {ChokeChanges} from './choke-changes.js';
import {PeerPieces} from './peer-pieces.js';
import type {PiecePicker} from './piece-picker.js';
import type {PieceProgress} from './piece-progress.js';
import {RequestLedger} from './request-ledger.js';
import {RequestWindow, type RequestWindowOptions} from './request-window.js';

/** What the downloader asks of the world after each input: messages to send, finished pieces, events. */
export type PeerActivity =
	| {type: 'send'; messages: PeerMessage[]}
	| {type: 'piece-complete'; piece: PieceProgress}
	| Extract<RunEvent, {type: 'peer-choked' | 'peer-unchoked' | 'piece-started'}>;

/** BEP 3's mainline client: a peer that sent nothing for a minute while asked is snubbed. */
const snubbedAfterMs = 60_000;

/**
 * One peer's side of a download, as a state machine fed with the peer's messages and clock
 * ticks: it tracks choking and interest, keeps a sliding window of pipelined block requests
 * over the pieces the peer has, and hands back finished pieces. Protocol violations throw
 * `PeerProtocolError`; whoever runs it drops the peer.
 */
export class PeerDownloader {
	readonly peerPieces: Bitfield;
	#choked = true;
	#interested = false;
	readonly #window: RequestWindow;
	/** What we asked this peer for, and which pieces we fill with it. */
	readonly #ledger: RequestLedger;
	#downloadedBytes = 0;
	#lastBlockAt: number;
	#lastReceivedAt: number;
	#lastSentAt: number;
	readonly #chokeChanges: ChokeChanges;
	/** What the peer has, told to the picker's availability. */
	readonly #pieces: PeerPieces;
	/** The time of the input being handled, so that request timing starts when requests go out. */
	#now: number;

	constructor(
		readonly peer: string,
		readonly picker: PiecePicker,
		readonly options: RequestWindowOptions,
		now: number,
	) {
		this.#pieces = new PeerPieces(picker);
		this.peerPieces = this.#pieces.bitfield;
		this.#window = new RequestWindow(options);
		this.#lastBlockAt = now;
		this.#lastReceivedAt = now;
		this.#lastSentAt = now;
		this.#now = now;
		this.#chokeChanges = new ChokeChanges(now);
		this.#ledger = new RequestLedger(Math.ceil(picker.pieceSize(0) / blockLength));
	}

	get window(): number {
		return this.#window.size;
	}

	get outstanding(): number {
		return this.#ledger.size;
	}

	/** Payload bytes received from this peer in blocks we asked for. */
	get downloadedBytes(): number {
		return this.#downloadedBytes;
	}

	/** Requests are out but nothing came for `snubbedAfterMs`: the choker gives its slot to another. */
	snubbed(now: number): boolean {
		return this.#ledger.size > 0 && now - this.#lastBlockAt >= snubbedAfterMs;
	}

	/** Handles one message from the peer and returns what follows from it. */
	receive(message: PeerMessage, now: number): PeerActivity[] {
		this.#now = now;
		this.#lastReceivedAt = now;
		const activity: PeerActivity[] = [];
		switch (message.type) {
			case 'bitfield':
			case 'have-all':
			case 'have-none':
			case 'have':
				if (this.#pieces.receive(message, this.#interested)) {
					this.#updateInterest(activity);
				}

				break;
			case 'reject': {
				// BEP 6: the block can be asked for again (of anyone); given up on already, it is simply not expected.
				// A reject that matches no request of ours is ignored: mapped to a block, an offset past the
				// end of piece n would free block 0 of piece n+1, which then counts as unrequested when it lands.
				const block = this.#blockOf(message.index, message.begin);
				if (
					block >= 0 &&
					message.length === Math.min(blockLength, this.picker.pieceSize(message.index) - message.begin)
				) {
					this.#ledger.rejected(message.index, block);
				}

				break;
			}
			case 'choke':
				this.#choke(now, activity);
				break;
			case 'unchoke':
				this.#unchoke(now, activity);
				break;
			case 'piece':
				this.#receiveBlock(message.index, message.begin, message.block, now, activity);
				break;
			default:
				// keep-alive, interested, not-interested, request, cancel, port, extensions:
				// nothing to do for a download.
				break;
		}

		this.#leaveIfBothSeeds();
		this.#fillWindow(activity);
		return activity;
	}

	/** Re-checks the window after the picker has new work (a piece released or failed elsewhere). */
	wake(): PeerActivity[] {
		const activity: PeerActivity[] = [];
		if (!this.#interested) {
			this.#updateInterest(activity);
		}

		this.#fillWindow(activity);
		return activity;
	}

	/** Once a second (or so): resize the window from the measured rate; enforce the timeouts. */
	tick(now: number, elapsedMs: number): PeerActivity[] {
		this.#now = now;
		this.#leaveIfBothSeeds();
		if (this.#ledger.size > 0 && now - this.#lastBlockAt >= this.options.requestTimeoutMs) {
			throw new PeerProtocolError(`no block for ${Math.round((now - this.#lastBlockAt) / 1000)} s`);
		}

		if (now - this.#lastReceivedAt >= this.options.idleTimeoutMs) {
			throw new PeerProtocolError(`silent for ${Math.round((now - this.#lastReceivedAt) / 1000)} s`);
		}

		this.#window.tick(elapsedMs);
		const activity: PeerActivity[] = [];
		if (now - this.#lastSentAt >= this.options.keepAliveMs) {
			activity.push({type: 'send', messages: [{type: 'keep-alive'}]});
		}

		this.#fillWindow(activity);
		return activity;
	}

	/**
	 * Endgame: a block arrived, from this peer or another. If we asked for it too, the request is
	 * cancelled; a piece finished elsewhere is forgotten.
	 */
	blockArrived(piece: PieceProgress, block: number): PeerActivity[] {
		const activity: PeerActivity[] = [];
		// Its copy may already be on the way: not a protocol violation when it lands.
		if (this.#ledger.withdraw(piece, block)) {
			const message: PeerMessage = {
				type: 'cancel',
				index: piece.index,
				begin: block * blockLength,
				length: piece.blockSize(block),
			};
			activity.push({type: 'send', messages: [message]});
		}

		if (piece.complete) {
			this.#ledger.forget(piece);
		}

		this.#fillWindow(activity);
		return activity;
	}

	/**
	 * We verified a piece: the peer hears of it (`have`) unless it has the piece itself. A seed
	 * never needs to hear, and for small pieces those messages were a socket write each.
	 */
	pieceVerified(index: number): PeerActivity[] {
		return this.peerPieces.has(index) ? [] : [{type: 'send', messages: [{type: 'have', index}]}];
	}

	/** Records that bytes went out, for the keep-alive clock. */
	sent(now: number): void {
		this.#lastSentAt = now;
	}

	/** The peer is going away: its unfinished pieces go back to the pool, its pieces leave the availability count. */
	close(): void {
		if (!this.#choked) {
			this.#choked = true;
			this.picker.peerSending(false);
		}

		this.#ledger.releaseAll(this.picker);
		this.#pieces.withdraw();
	}

	/** Two seeds have nothing to say to each other; the connection slot is better used elsewhere. */
	#leaveIfBothSeeds(): void {
		if (this.picker.complete && this.peerPieces.complete) {
			throw new TorrentRxError('both sides have every piece');
		}
	}

	#receiveBlock(index: number, begin: number, data: Buffer, now: number, activity: PeerActivity[]): void {
		const block = this.#blockOf(index, begin);
		const origin = block >= 0 ? this.#ledger.settle(index, block) : 'unasked';
		if (origin !== 'asked') {
			if (origin === 'given-up') {
				return;
			}

			throw new PeerProtocolError(
				`sent a block we did not request (piece ${index}, offset ${begin}, ${data.length} bytes)`,
			);
		}

		this.#lastBlockAt = now;
		const piece = this.#ledger.pieceFor(index);
		// Asked for, but the piece was finished by another peer meanwhile (endgame).
		const receipt = piece ? piece.receive(begin, data, this.peer) : 'duplicate';
		if (receipt === 'misfit') {
			throw new PeerProtocolError(
				`sent a block that does not fit (piece ${index}, offset ${begin}, ${data.length} bytes)`,
			);
		}

		this.#downloadedBytes += data.length;
		this.#window.blockReceived(data.length);
		if (receipt === 'duplicate' || !piece) {
			return;
		}

		this.picker.blockStored(piece, block);
		if (piece.complete) {
			this.#ledger.forget(piece);
			this.picker.markVerifying(index);
			activity.push({type: 'piece-complete', piece});
		}
	}

	#choke(now: number, activity: PeerActivity[]): void {
		if (!this.#choked) {
			this.#chokeChanges.spend(now);
			this.#choked = true;
			this.picker.peerSending(false);
			// BEP 3: a choke discards every pending request; blocks already sent may still land.
			this.#ledger.releaseAll(this.picker);
			activity.push({type: 'peer-choked', peer: this.peer});
		}
	}

	#unchoke(now: number, activity: PeerActivity[]): void {
		if (this.#choked) {
			this.#chokeChanges.spend(now);
			this.#choked = false;
			this.picker.peerSending(true);
			this.#ledger.clearGivenUp();
			activity.push({type: 'peer-unchoked', peer: this.peer});
		}
	}

	/**
	 * The block at `begin` of piece `index`, or -1 when no request of ours could name it: we ask for
	 * whole blocks inside a piece only, and anything else would alias another block's key (an offset
	 * past the end of piece n is a block of piece n+1).
	 */
	#blockOf(index: number, begin: number): number {
		const block = begin / blockLength;
		return Number.isInteger(block) && index < this.picker.pieceCount && begin < this.picker.pieceSize(index)
			? block
			: -1;
	}

	#updateInterest(activity: PeerActivity[]): void {
		const interested = this.picker.isInteresting(this.peerPieces);
		if (interested !== this.#interested) {
			this.#interested = interested;
			activity.push({type: 'send', messages: [{type: interested ? 'interested' : 'not-interested'}]});
		}
	}

	#fillWindow(activity: PeerActivity[]): void {
		if (this.#choked || !this.#interested) {
			return;
		}

		// Top the window up in batches: a request per block received would cost a syscall each.
		if (this.#ledger.size > 0 && this.#window.size - this.#ledger.size < this.#window.batch) {
			return;
		}

		const requests: PeerMessage[] = [];
		if (this.#ledger.size === 0) {
			// The request timeout measures how long the oldest outstanding request has waited.
			this.#lastBlockAt = this.#now;
		}

		while (this.#ledger.size < this.#window.size) {
			const next = this.#claimNextBlock(activity);
			if (!next) {
				break;
			}

			const [piece, block] = next;
			requests.push({
				type: 'request',
				index: piece.index,
				begin: block * blockLength,
				length: piece.blockSize(block),
			});
			this.#ledger.add(piece.index, block);
		}

		if (requests.length > 0) {
			activity.push({type: 'send', messages: requests});
		} else if (this.#ledger.size === 0 && this.#ledger.ownedCount === 0) {
			// Nothing left that this peer can give us (or the memory budget is spent): say so if it is for good.
			this.#updateInterest(activity);
		}
	}

	#claimNextBlock(activity: PeerActivity[]): [PieceProgress, number] | undefined {
		const owned = this.#ledger.claimOwnedBlock();
		if (owned) {
			return owned;
		}

		// An upper bound (the last piece is shorter), and cheap: no sum over hundreds of small pieces.
		const piece = this.picker.pick(this.peerPieces, this.#ledger.ownedCount * this.picker.pieceSize(0));
		if (!piece) {
			return this.#claimDuplicate();
		}

		this.#ledger.own(piece);
		piece.startedAt ??= this.#now;
		activity.push({type: 'piece-started', peer: this.peer, index: piece.index});
		return this.#ledger.claimOwnedBlock();
	}

	/** Endgame: a block someone else is already asked for, unless we asked for it ourselves. */
	#claimDuplicate(): [PieceProgress, number] | undefined {
		const duplicate = this.picker.pickDuplicate(this.peerPieces, (index, block) =>
			this.#ledger.asked(index, block),
		);
		if (duplicate) {
			this.#ledger.borrow(duplicate[0]);
		}

		return duplicate;
	}
}
