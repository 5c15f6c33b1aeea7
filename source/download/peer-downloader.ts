import {Bitfield} from '../codec/bitfield.js';
import {blockLength, type PeerMessage} from '../codec/messages.js';
import {PeerProtocolError, TorrentRxError} from '../errors.js';
import type {RunEvent} from '../events/events.js';
import type {PiecePicker} from './piece-picker.js';
import type {PieceProgress} from './piece-progress.js';
import {RequestLedger} from './request-ledger.js';
import type {RequestWindowOptions} from './request-window.js';

/** What the downloader asks of the world after each input: messages to send, finished pieces, events. */
export type PeerActivity =
	| {type: 'send'; messages: PeerMessage[]}
	| {type: 'piece-complete'; piece: PieceProgress}
	| Extract<RunEvent, {type: 'peer-choked' | 'peer-unchoked' | 'piece-started'}>;

/** BEP 3's mainline client: a peer that sent nothing for a minute while asked is snubbed. */
const snubbedAfterMs = 60_000;

/**
 * Changes of choke a peer may make a minute, in a burst or spread out. A choker changes a peer's
 * state once a round (BEP 3's mainline client: 10 s; libtorrent 15 s); aria2 drops a peer at 2
 * changes in 5 s. Each change is an event, and a line in the history log, so a peer that flaps
 * faster than any choker would is dropped. (Interest is not counted: a leecher that keeps up with
 * us turns interested with every piece we verify, and a change of it is no event.)
 */
const maxChokeChanges = 20;
const chokeChangeWindowMs = 60_000;

/** At most this many requests wait for the window to have room for all of them. */
const maxRequestBatch = 16;

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
	#window: number;
	/**
	 * Until the first rate measurement, each block asked for and received widens the window by one
	 * (it doubles every round trip, as TCP's slow start): sized by the initial window alone, a peer
	 * 50 ms away stayed below its link's rate for the whole first second.
	 */
	#slowStart = true;
	/** What we asked this peer for, and which pieces we fill with it. */
	readonly #ledger: RequestLedger;
	#bytesSinceTick = 0;
	#downloadedBytes = 0;
	#lastBlockAt: number;
	#lastReceivedAt: number;
	#lastSentAt: number;
	/** Changes of choke the peer may still make now, refilled with time (a token bucket). */
	#chokeChangesLeft = maxChokeChanges;
	#chokeChangesAt: number;
	/** A bitfield, have-all, have-none or have has come: availability is known, and only grows. */
	#availabilityKnown = false;
	/** The time of the input being handled, so that request timing starts when requests go out. */
	#now: number;

	constructor(
		readonly peer: string,
		readonly picker: PiecePicker,
		readonly options: RequestWindowOptions,
		now: number,
	) {
		this.peerPieces = new Bitfield(picker.pieceCount);
		this.#window = options.initialWindow;
		this.#lastBlockAt = now;
		this.#lastReceivedAt = now;
		this.#lastSentAt = now;
		this.#now = now;
		this.#chokeChangesAt = now;
		this.#ledger = new RequestLedger(Math.ceil(picker.pieceSize(0) / blockLength));
	}

	get window(): number {
		return this.#window;
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
			// BEP 3 and BEP 6: what the peer has is said once, then by haves. Each of these messages
			// walks every piece (at 100,000 pieces a 5-byte have-all cost 1.5 ms), so one is taken as
			// is; later, only a bitfield or have-all that adds pieces, which aria2 sends instead of 20
			// haves or more (and a have-all when it finishes). A peer never takes a piece back.
			case 'bitfield':
				if (this.#availabilityKnown) {
					this.#addPieces(message.bitfield, activity);
				} else {
					this.#availabilityKnown = true;
					this.peerPieces.replace(Bitfield.fromWire(message.bitfield, this.picker.pieceCount));
					this.picker.addAvailability(this.peerPieces, 1);
					this.#updateInterest(activity);
				}

				break;
			case 'have-all':
				if (this.#availabilityKnown && this.peerPieces.complete) {
					throw new PeerProtocolError('have-all that adds no piece: availability said again');
				}

				this.#availabilityKnown = true;
				for (let index = 0; index < this.picker.pieceCount; index++) {
					if (this.peerPieces.set(index)) {
						this.picker.addHave(index);
					}
				}

				this.#updateInterest(activity);
				break;
			case 'have-none':
				if (this.#availabilityKnown) {
					throw new PeerProtocolError('have-none after its availability was said');
				}

				this.#availabilityKnown = true;
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
			case 'have': {
				if (message.index >= this.picker.pieceCount) {
					throw new PeerProtocolError(`have for piece ${message.index} of ${this.picker.pieceCount}`);
				}

				// A have before any bitfield says the peer had nothing (BEP 3 lets it leave the bitfield out).
				this.#availabilityKnown = true;
				if (this.peerPieces.set(message.index)) {
					this.picker.addHave(message.index);
					if (!this.#interested && this.picker.wants(message.index)) {
						this.#updateInterest(activity);
					}
				}

				break;
			}

			case 'choke':
				if (!this.#choked) {
					this.#chokeChanged(now);
					this.#choked = true;
					this.picker.peerSending(false);
					// BEP 3: a choke discards every pending request; blocks already sent may still land.
					this.#ledger.releaseAll(this.picker);
					activity.push({type: 'peer-choked', peer: this.peer});
				}

				break;
			case 'unchoke':
				if (this.#choked) {
					this.#chokeChanged(now);
					this.#choked = false;
					this.picker.peerSending(true);
					this.#ledger.clearGivenUp();
					activity.push({type: 'peer-unchoked', peer: this.peer});
				}

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

		if (elapsedMs > 0 && this.#bytesSinceTick > 0) {
			const bytesPerSecond = (this.#bytesSinceTick * 1000) / elapsedMs;
			const target = Math.ceil((bytesPerSecond * this.options.queueSeconds) / blockLength);
			this.#window = Math.min(this.options.maxWindow, Math.max(this.options.minWindow, target, this.#window));
			this.#slowStart = false;
		}

		this.#bytesSinceTick = 0;
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
		this.picker.addAvailability(this.peerPieces, -1);
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

		this.#bytesSinceTick += data.length;
		this.#downloadedBytes += data.length;
		if (this.#slowStart && this.#window < this.options.maxWindow) {
			this.#window++;
		}
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

	/** The peer choked or unchoked us: past the rate, it is dropped. */
	#chokeChanged(now: number): void {
		const refill = ((now - this.#chokeChangesAt) * maxChokeChanges) / chokeChangeWindowMs;
		this.#chokeChangesLeft = Math.min(maxChokeChanges, this.#chokeChangesLeft + refill);
		this.#chokeChangesAt = now;
		if (this.#chokeChangesLeft < 1) {
			throw new PeerProtocolError(`choked and unchoked us more than ${maxChokeChanges} times a minute`);
		}

		this.#chokeChangesLeft--;
	}

	/**
	 * A later bitfield: the pieces it adds count as haves. A byte at a time, without a Bitfield of
	 * its own, so the cost is that of the bytes received; one that adds nothing drops the peer.
	 */
	#addPieces(bytes: Buffer, activity: PeerActivity[]): void {
		const known = this.peerPieces.bytes;
		if (bytes.length !== known.length) {
			throw new PeerProtocolError(`bitfield is ${bytes.length} bytes, expected ${known.length}`);
		}

		let added = 0;
		let wanted = false;
		for (let byteIndex = 0; byteIndex < bytes.length; byteIndex++) {
			const had = known[byteIndex] ?? 0;
			const has = bytes[byteIndex] ?? 0;
			if ((had & ~has) !== 0) {
				throw new PeerProtocolError('a bitfield that takes back pieces it had');
			}

			for (let fresh = has & ~had; fresh !== 0; fresh &= fresh - 1) {
				// The lowest set bit is the highest piece of this byte (the high bit is the first).
				const index = byteIndex * 8 + 7 - (31 - Math.clz32(fresh & -fresh));
				if (index >= this.picker.pieceCount) {
					throw new PeerProtocolError('bitfield has spare bits set');
				}

				this.peerPieces.set(index);
				this.picker.addHave(index);
				wanted ||= this.picker.wants(index);
				added++;
			}
		}

		if (added === 0) {
			throw new PeerProtocolError('a bitfield that adds no piece: availability said again');
		}

		if (wanted && !this.#interested) {
			this.#updateInterest(activity);
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
		const batch = Math.max(1, Math.min(maxRequestBatch, Math.floor(this.#window / 4)));
		if (this.#ledger.size > 0 && this.#window - this.#ledger.size < batch) {
			return;
		}

		const requests: PeerMessage[] = [];
		if (this.#ledger.size === 0) {
			// The request timeout measures how long the oldest outstanding request has waited.
			this.#lastBlockAt = this.#now;
		}

		while (this.#ledger.size < this.#window) {
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
