/** A piece at this priority is not fetched at all: pad bytes (BEP 47), files not selected. */
export const notWanted = 0;

/**
 * The priority every piece starts at, as libtorrent's `default_priority` (4 of 0–7): room above
 * it for pieces a player is about to read, below it for pieces that may come last.
 */
export const normalPriority = 4;

/** Watches changes of priority: the picker, which keeps its counts by wantedness. */
export type PriorityWatcher = (index: number, before: number, after: number) => void;

/**
 * What the download wants, piece by piece: a priority byte each, 0 for a piece never fetched, and
 * higher before lower. The one place file selection, pad files, sequential order and deadlines
 * near a player's read position will speak through; the picker reads it and nothing else.
 */
export class WantedPieces {
	/** Read-only to everyone but this class: the picker reads it in its pick loop. */
	readonly priorities: Uint8Array;
	/** How many pieces are at each priority. */
	readonly #countAt = new Uint32Array(256);
	#watcher: PriorityWatcher | undefined;

	constructor(
		readonly pieceCount: number,
		priority = normalPriority,
	) {
		this.priorities = new Uint8Array(pieceCount).fill(priority);
		this.#countAt[priority] = pieceCount;
	}

	/**
	 * Every piece wanted, all at one priority: the picker's fast path, rarest first alone, the
	 * same loop as before priorities existed.
	 */
	get uniform(): boolean {
		const first = this.priorities[0] ?? normalPriority;
		return first !== notWanted && this.#countAt[first] === this.pieceCount;
	}

	/** The highest priority any piece has: a pick at it, among the rarest, needs no further search. */
	get topPriority(): number {
		for (let priority = 255; priority > 0; priority--) {
			if ((this.#countAt[priority] ?? 0) > 0) {
				return priority;
			}
		}

		return notWanted;
	}

	/** How many pieces are wanted at all. */
	get wantedCount(): number {
		return this.pieceCount - (this.#countAt[notWanted] ?? 0);
	}

	priorityOf(index: number): number {
		return this.priorities[index] ?? notWanted;
	}

	isWanted(index: number): boolean {
		return this.priorityOf(index) !== notWanted;
	}

	/** Sets one piece's priority (0–255, 0 for not wanted); the watcher hears of a change. */
	set(index: number, priority: number): void {
		if (!Number.isInteger(priority) || priority < 0 || priority > 255) {
			throw new RangeError(`priority ${priority} is not a byte`);
		}

		if (!Number.isInteger(index) || index < 0 || index >= this.pieceCount) {
			throw new RangeError(`piece ${index} of ${this.pieceCount}`);
		}

		const before = this.priorityOf(index);
		if (before === priority) {
			return;
		}

		this.priorities[index] = priority;
		this.#countAt[before] = (this.#countAt[before] ?? 0) - 1;
		this.#countAt[priority] = (this.#countAt[priority] ?? 0) + 1;
		this.#watcher?.(index, before, priority);
	}

	/** Sets the pieces `first` to `last` (inclusive), as a file's pieces are selected together. */
	setRange(first: number, last: number, priority: number): void {
		for (let index = first; index <= last; index++) {
			this.set(index, priority);
		}
	}

	/** One watcher only: two pickers counting the same pieces would each miss the other's changes. */
	watch(watcher: PriorityWatcher): void {
		if (this.#watcher) {
			throw new Error('these wanted pieces already have a picker watching them');
		}

		this.#watcher = watcher;
	}
}
