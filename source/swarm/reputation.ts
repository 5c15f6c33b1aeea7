import type {PieceProgress} from '../download/piece-progress.js';
import {convictLiars, rememberSuspects, type SuspectBlock} from './blame.js';
import {maxRememberedPeers, swarmMemory} from './bounded-map.js';

/** How a handshake's peer id fares against what we remember. */
export type Admission = {admitted: true} | {admitted: false; reason: string};

/**
 * What the swarm remembers about peers' conduct, across their connections: hash-failure strikes,
 * bans, the peer id each address gave (how a banned peer calling from a new port is known again),
 * our own addresses, and the suspects of pieces that several peers sent (libtorrent's smart ban).
 * Every record is bounded (`swarmMemory`): strangers can call from ever new addresses. The same
 * bookkeeping serves the metadata fetch (BEP 9), whose dictionaries fail a hash as pieces do.
 */
export class PeerReputation {
	readonly #strikes: Map<string, number>;
	readonly #banned: Set<string>;
	readonly #peerIds: Map<string, string>;
	readonly #ourAddresses: Set<string>;
	/** Failed pieces that several peers sent, block by block, until a good copy shows who lied. */
	readonly #suspects = new Map<number, SuspectBlock[]>();

	/** `maxStrikes`: a peer with this many failures is banned and not called again. */
	constructor(
		readonly maxStrikes: number,
		limit = maxRememberedPeers,
	) {
		const memory = swarmMemory(limit);
		this.#strikes = memory.strikes;
		this.#banned = memory.banned;
		this.#peerIds = memory.peerIds;
		this.#ourAddresses = memory.ourAddresses;
	}

	isBanned(peer: string): boolean {
		return this.#banned.has(peer);
	}

	/** Answered with our own peer id once (our public address, as trackers name it): never dialled again. */
	isOurs(peer: string): boolean {
		return this.#ourAddresses.has(peer);
	}

	strikesOf(peer: string): number {
		return this.#strikes.get(peer) ?? 0;
	}

	ban(peer: string): void {
		this.#banned.add(peer);
	}

	/** The address turned out to be us. */
	markOurs(peer: string): void {
		this.#ourAddresses.add(peer);
	}

	/**
	 * A handshake from `peer` gave `peerId` (hex). A banned peer that calls us comes from a port
	 * of its own: its peer id gives it away (unless it changes that too, which costs it the
	 * strikes it had, not more). Admitted, the peer id is remembered for the address.
	 */
	admit(peer: string, peerId: string): Admission {
		for (const address of this.#banned) {
			if (this.#peerIds.get(address) === peerId) {
				return {admitted: false, reason: `banned (as ${address})`};
			}
		}

		this.#peerIds.set(peer, peerId);
		return {admitted: true};
	}

	/** One more failure against `peer`; at `maxStrikes` it is banned. Returns its strikes. */
	strike(peer: string): number {
		const strikes = this.strikesOf(peer) + 1;
		this.#strikes.set(peer, strikes);
		if (strikes >= this.maxStrikes) {
			this.#banned.add(peer);
		}

		return strikes;
	}

	/**
	 * A piece failed its hash. Sent by one peer, it convicts that peer (a strike); sent by several,
	 * it only makes them suspects until a good copy arrives. Returns the sender's strikes.
	 */
	pieceFailed(piece: PieceProgress, peer: string): number {
		if (piece.contributors.size === 1) {
			return this.strike(peer);
		}

		rememberSuspects(piece, this.#suspects);
		return this.strikesOf(peer);
	}

	/** A piece passed at last: whoever sent a block of an earlier copy that differs from it is banned. */
	piecePassed(index: number, data: Buffer): void {
		for (const liar of convictLiars(index, data, this.#suspects)) {
			this.#strikes.set(liar, this.maxStrikes);
			this.#banned.add(liar);
		}
	}
}
