import {createHash} from 'node:crypto';
import {type Observable, Subject} from 'rxjs';
import {maxMetadataSize, metadataPieceLength} from '../codec/extension-protocol.js';
import {PeerReputation} from '../swarm/reputation.js';

/** A peer that sent part of two dictionaries that failed the hash is not asked again. */
const maxStrikes = 2;

/**
 * The info dictionary being put together from BEP 9 pieces, wherever they come from. The size
 * is the one the connected peers name (the first named, while any peer still names it). When
 * every piece is in, the whole must hash to the info hash; if not, it is thrown away, each peer
 * that sent part of it gets a strike, and one that sent all of it is not asked again.
 */
export class MetadataAssembly {
	#size: number | undefined;
	#pieces: Array<Buffer | undefined> = [];
	/** Which peer was asked for each piece that has not arrived. */
	#asked = new Map<number, string>();
	/** Who sent each piece that has. */
	#senders = new Map<number, string>();
	/** The peers naming each size. */
	#backers = new Map<number, Set<string>>();
	/** Strikes and bans, bounded as the swarm's are: anyone may offer metadata. */
	readonly #reputation = new PeerReputation(maxStrikes);
	#failures = 0;
	readonly #changes$ = new Subject<void>();

	constructor(readonly infoHash: Buffer) {}

	/** Emits when pieces are free to claim again, or the size changed: idle peers should look. */
	get changes$(): Observable<void> {
		return this.#changes$;
	}

	get size(): number | undefined {
		return this.#size;
	}

	get pieceCount(): number {
		return this.#pieces.length;
	}

	/** Times the pieces were all in but hashed wrong. */
	get failures(): number {
		return this.#failures;
	}

	isBanned(peer: string): boolean {
		return this.#reputation.isBanned(peer);
	}

	/** A peer's `metadata_size`: true when it is the size being assembled (or becomes it), so the peer may be asked. */
	offerSize(size: number, peer = ''): boolean {
		if (
			!(Number.isSafeInteger(size) && size > 0 && size <= maxMetadataSize) ||
			this.#reputation.isBanned(peer)
		) {
			return false;
		}

		if (peer) {
			const backers = this.#backers.get(size) ?? new Set<string>();
			backers.add(peer);
			this.#backers.set(size, backers);
		}

		if (this.#size === undefined) {
			this.#startOver(size);
		}

		return this.#size === size;
	}

	/** The next piece nobody has been asked for, now asked of `peer`; undefined when none is left. */
	claim(peer: string): number | undefined {
		if (this.#reputation.isBanned(peer)) {
			return undefined;
		}

		for (let piece = 0; piece < this.#pieces.length; piece++) {
			if (this.#pieces[piece] === undefined && !this.#asked.has(piece)) {
				this.#asked.set(piece, peer);
				return piece;
			}
		}

		return undefined;
	}

	/** A peer rejected a piece, or timed out: what it was asked for can be asked of someone else. */
	release(peer: string, piece?: number): void {
		let released = false;
		for (const [asked, by] of this.#asked) {
			if (by === peer && (piece === undefined || piece === asked)) {
				this.#asked.delete(asked);
				released = true;
			}
		}

		if (released) {
			this.#changes$.next();
		}
	}

	/**
	 * A peer is gone: its pieces are free, and it no longer vouches for its size. A size nobody
	 * connected names any more, with nothing received for it, gives way to one that is named.
	 */
	leave(peer: string): void {
		this.release(peer);
		this.#unback(peer);

		const size = this.#size;
		if (size !== undefined && (this.#backers.get(size)?.size ?? 0) === 0 && this.#senders.size === 0) {
			this.#startOver(this.#bestBackedSize());
			this.#changes$.next();
		}
	}

	/**
	 * Takes a piece; returns the verified info dictionary once the last one makes it whole.
	 * A piece of the wrong length, or one nobody asked this peer for, is refused (false).
	 */
	receive(peer: string, piece: number, data: Buffer): Buffer | false | undefined {
		const size = this.#size;
		if (size === undefined || this.#asked.get(piece) !== peer) {
			return false;
		}

		const expected = Math.min(metadataPieceLength, size - piece * metadataPieceLength);
		if (data.length !== expected) {
			return false;
		}

		this.#asked.delete(piece);
		this.#pieces[piece] = Buffer.from(data);
		this.#senders.set(piece, peer);
		if (this.#pieces.some((stored) => stored === undefined)) {
			return undefined;
		}

		const whole = Buffer.concat(this.#pieces as Buffer[]);
		if (createHash('sha1').update(whole).digest().equals(this.infoHash)) {
			return whole;
		}

		this.#failed();
		return undefined;
	}

	#failed(): void {
		this.#failures++;
		const senders = new Set(this.#senders.values());
		for (const sender of senders) {
			this.#reputation.strike(sender);
			// One peer sent it all: the lie is its own.
			if (senders.size === 1) {
				this.#reputation.ban(sender);
			}

			if (this.#reputation.isBanned(sender)) {
				this.#unback(sender);
			}
		}

		// The size may have been the lie: when nobody left names it, go on with the one named most.
		const size = this.#size;
		const named = (candidate: number) => (this.#backers.get(candidate)?.size ?? 0) > 0;
		const anyNamed = [...this.#backers.keys()].some(named);
		this.#startOver(size !== undefined && (named(size) || !anyNamed) ? size : this.#bestBackedSize());
		this.#changes$.next();
	}

	/** Starts over with `size`; requests still out for the same size stay valid for the new round. */
	#startOver(size: number | undefined): void {
		if (size !== this.#size) {
			this.#asked.clear();
		}

		this.#size = size;
		this.#pieces =
			size === undefined ? [] : Array.from({length: Math.ceil(size / metadataPieceLength)}, () => undefined);
		this.#senders.clear();
	}

	/** The peer no longer names its size; a size nobody names is forgotten (peers come and go, each with a size of its own). */
	#unback(peer: string): void {
		for (const [size, backers] of this.#backers) {
			backers.delete(peer);
			if (backers.size === 0) {
				this.#backers.delete(size);
			}
		}
	}

	/** For tests: every size remembered is named by a peer still connected (libtorrent's `check_invariant`). */
	checkInvariant(): void {
		for (const [size, backers] of this.#backers) {
			if (backers.size === 0) {
				throw new Error(`size ${size} is remembered with nobody naming it`);
			}
		}
	}

	#bestBackedSize(): number | undefined {
		let best: number | undefined;
		let most = 0;
		for (const [size, backers] of this.#backers) {
			if (backers.size > most) {
				best = size;
				most = backers.size;
			}
		}

		return best;
	}
}
