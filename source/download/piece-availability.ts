/**
 * How many peers have each piece, and how rare the rarest needed piece is: what rarest-first
 * ranks by. Only the pieces nobody has started and that are wanted (`isNeeded`) are counted by
 * rarity; the picker says when a piece joins or leaves them, so the rarest is known without a
 * scan of the pieces.
 */
export class PieceAvailability {
	readonly #peersWith: Uint32Array;
	/** How many needed pieces are had by 0, 1, 2… peers. Every piece starts needed. */
	readonly #neededByRarity: number[];

	constructor(
		pieceCount: number,
		readonly isNeeded: (index: number) => boolean,
	) {
		this.#peersWith = new Uint32Array(pieceCount);
		this.#neededByRarity = [pieceCount];
	}

	of(index: number): number {
		return this.#peersWith[index] ?? 0;
	}

	/** One peer more (1) or fewer (-1) has the piece; never below none. */
	add(index: number, delta: 1 | -1): void {
		const needed = this.isNeeded(index);
		if (needed) {
			this.neededChanged(index, -1);
		}

		this.#peersWith[index] = Math.max(0, this.of(index) + delta);
		if (needed) {
			this.neededChanged(index, 1);
		}
	}

	/** The piece joins (1) or leaves (-1) the pieces nobody has started. */
	neededChanged(index: number, delta: 1 | -1): void {
		const rarity = this.of(index);
		while (this.#neededByRarity.length <= rarity) {
			this.#neededByRarity.push(0);
		}

		this.#neededByRarity[rarity] = (this.#neededByRarity[rarity] ?? 0) + delta;
	}

	/**
	 * Recounts the needed pieces by rarity from `isNeeded` and the peer counts, and throws when the
	 * books kept by `neededChanged` differ (libtorrent's `check_invariant`, for tests and debugging).
	 */
	checkInvariant(): void {
		const recount: number[] = [];
		for (let index = 0; index < this.#peersWith.length; index++) {
			if (this.isNeeded(index)) {
				const rarity = this.of(index);
				recount[rarity] = (recount[rarity] ?? 0) + 1;
			}
		}

		const length = Math.max(recount.length, this.#neededByRarity.length);
		for (let rarity = 0; rarity < length; rarity++) {
			const kept = this.#neededByRarity[rarity] ?? 0;
			const counted = recount[rarity] ?? 0;
			if (kept !== counted) {
				throw new Error(
					`piece availability: ${kept} needed pieces kept as had by ${rarity} peers, ${counted} counted`,
				);
			}
		}
	}

	/** The fewest peers that have a needed piece, among pieces some peer has; infinity when none. */
	rarest(): number {
		for (let rarity = 1; rarity < this.#neededByRarity.length; rarity++) {
			if ((this.#neededByRarity[rarity] ?? 0) > 0) {
				return rarity;
			}
		}

		return Number.POSITIVE_INFINITY;
	}
}
