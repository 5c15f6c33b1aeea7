import {type PeerAddress, peerKey} from '../codec/compact-peers.js';
import type {PeerSource} from '../events/events.js';
import {isDialable} from '../peer/address-scope.js';

/** An address waiting for a free connection slot, and where we learnt of it. */
export type Candidate = {key: string; address: PeerAddress; source: PeerSource};

/** Where a candidate came from, best first: a peer we reached before comes back first. */
const groups = ['returning', 'lsd', 'magnet', 'tracker', 'dht', 'pex', 'incoming'] as const;
type Group = (typeof groups)[number];

export type AddOptions = {
	/** The source is itself on the local network, or is the user: loopback and private addresses may be dialled. */
	allowLocal?: boolean;
	/** A peer we were connected to, called again: the most promising kind. */
	returning?: boolean;
};

/**
 * The addresses the swarm may dial, bounded (libtorrent's `peer_list`, `max_peerlist_size`),
 * as a state machine without I/O. An address is waiting, active (dialling or connected, ours or
 * theirs) or unknown; it is never both waiting and active, and never waiting twice. When the
 * pool is full, a newcomer displaces the oldest address of the source that holds the most, so
 * one source flooding us (a tracker with 120,000 fresh addresses, a chatty PEX peer) fills its
 * share and no more; the addresses of every other source keep their places. `take` hands out
 * the most promising first: returning peers, then LSD and the user's, then trackers, DHT, PEX.
 * Addresses nobody should dial never get in: port 0, and loopback, private or link-local
 * addresses unless the source is allowed them.
 */
export class CandidatePool {
	readonly #capacity: number;
	readonly #excluded: (key: string) => boolean;
	readonly #waiting = new Map<Group, Map<string, Candidate>>(groups.map((group) => [group, new Map()]));
	readonly #groupOf = new Map<string, Group>();
	readonly #active = new Set<string>();

	constructor(capacity: number, excluded: (key: string) => boolean) {
		this.#capacity = capacity;
		this.#excluded = excluded;
	}

	/** Addresses waiting for a slot. */
	get waiting(): number {
		return this.#groupOf.size;
	}

	/** Adds what may be dialled of `peers`; returns those that joined the pool (new, or moved up). */
	add(peers: readonly PeerAddress[], source: PeerSource, options: AddOptions = {}): PeerAddress[] {
		const group: Group = options.returning ? 'returning' : source;
		const added: PeerAddress[] = [];
		for (const address of peers) {
			if (!isDialable(address, options.allowLocal === true)) {
				continue;
			}

			const key = peerKey(address);
			const current = this.#groupOf.get(key);
			if (
				this.#active.has(key) ||
				this.#excluded(key) ||
				(current !== undefined && groups.indexOf(current) <= groups.indexOf(group))
			) {
				continue;
			}

			if (current !== undefined) {
				this.#waiting.get(current)?.delete(key);
				this.#groupOf.delete(key);
			} else if (this.#groupOf.size >= this.#capacity && !this.#makeRoomFor(group)) {
				continue;
			}

			this.#waiting.get(group)?.set(key, {key, address, source});
			this.#groupOf.set(key, group);
			added.push(address);
		}

		return added;
	}

	/** The most promising waiting address, now active; undefined when none is waiting. */
	take(): Candidate | undefined {
		for (const group of groups) {
			const waiting = this.#waiting.get(group);
			for (const candidate of waiting?.values() ?? []) {
				waiting?.delete(candidate.key);
				this.#groupOf.delete(candidate.key);
				// Banned, or found to be ourselves, since it joined.
				if (!this.#excluded(candidate.key)) {
					this.#active.add(candidate.key);
					return candidate;
				}
			}
		}

		return undefined;
	}

	/** A peer that called us: active unless it already is (then refuse it). */
	claim(key: string): boolean {
		if (this.#active.has(key)) {
			return false;
		}

		const group = this.#groupOf.get(key);
		if (group !== undefined) {
			this.#waiting.get(group)?.delete(key);
			this.#groupOf.delete(key);
		}

		this.#active.add(key);
		return true;
	}

	/** A session ended: the address may join again. */
	release(key: string): void {
		this.#active.delete(key);
	}

	/** Evicts the oldest address of the largest group, unless that is the newcomer's own group. */
	#makeRoomFor(group: Group): boolean {
		let largest: Map<string, Candidate> | undefined;
		let largestGroup: Group | undefined;
		for (const [name, waiting] of this.#waiting) {
			if (largest === undefined || waiting.size > largest.size) {
				largest = waiting;
				largestGroup = name;
			}
		}

		if (
			largest === undefined ||
			largestGroup === group ||
			largest.size <= (this.#waiting.get(group)?.size ?? 0)
		) {
			return false;
		}

		for (const key of largest.keys()) {
			largest.delete(key);
			this.#groupOf.delete(key);
			return true;
		}

		return false;
	}

	/** For tests: the bookkeeping agrees with itself (libtorrent's `check_invariant`). */
	checkInvariant(): void {
		let total = 0;
		for (const [group, waiting] of this.#waiting) {
			total += waiting.size;
			for (const key of waiting.keys()) {
				if (this.#groupOf.get(key) !== group) {
					throw new Error(`${key} is waiting in ${group} but indexed as ${this.#groupOf.get(key)}`);
				}

				if (this.#active.has(key)) {
					throw new Error(`${key} is both waiting and active`);
				}
			}
		}

		if (total !== this.#groupOf.size) {
			throw new Error(`${total} waiting, ${this.#groupOf.size} indexed`);
		}

		if (total > this.#capacity) {
			throw new Error(`${total} waiting, more than the capacity of ${this.#capacity}`);
		}
	}
}
