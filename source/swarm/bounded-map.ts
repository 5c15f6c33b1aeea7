/**
 * A `Map` that holds at most `limit` entries: setting a new key past the limit forgets the
 * least recently set one, unless `keep` says it must stay (a banned peer's id). Setting a key
 * again makes it the most recent. For what the swarm remembers per address, which strangers
 * can otherwise grow without end by calling from new addresses.
 */
export class BoundedMap<K, V> extends Map<K, V> {
	readonly #limit: number;
	readonly #keep: (key: K) => boolean;

	constructor(limit: number, keep: (key: K) => boolean = () => false) {
		super();
		this.#limit = limit;
		this.#keep = keep;
	}

	override set(key: K, value: V): this {
		// Map's constructor calls set before the fields exist; nothing to bound then.
		if (this.#limit === undefined) {
			return super.set(key, value);
		}

		super.delete(key);
		super.set(key, value);
		if (this.size > this.#limit) {
			for (const oldest of this.keys()) {
				if (!this.#keep(oldest)) {
					super.delete(oldest);
					break;
				}
			}
		}

		return this;
	}
}

/** A `Set` that holds at most `limit` keys, forgetting the least recently added one. */
export class BoundedSet<K> extends Set<K> {
	readonly #limit: number;

	constructor(limit: number) {
		super();
		this.#limit = limit;
	}

	override add(key: K): this {
		if (this.#limit === undefined) {
			return super.add(key);
		}

		super.delete(key);
		super.add(key);
		for (const oldest of this) {
			if (this.size <= this.#limit) {
				break;
			}

			super.delete(oldest);
		}

		return this;
	}
}

/** What the swarm remembers per address, at most: a stranger calling from ever new addresses cannot grow it. */
export const maxRememberedPeers = 10_000;

/**
 * The swarm's per-address memory, bounded. A banned address's peer id is never forgotten (it is
 * how the banned peer is known again when it calls from another port); `banned` itself grows
 * only by peers that each sent `maxStrikes` pieces that failed the hash, which costs them the
 * bandwidth of those pieces.
 */
export function swarmMemory(limit = maxRememberedPeers): {
	strikes: Map<string, number>;
	banned: Set<string>;
	peerIds: Map<string, string>;
	ourAddresses: Set<string>;
} {
	const banned = new Set<string>();
	return {
		strikes: new BoundedMap(limit, (key) => banned.has(key)),
		banned,
		peerIds: new BoundedMap(limit, (key) => banned.has(key)),
		ourAddresses: new BoundedSet(limit),
	};
}
