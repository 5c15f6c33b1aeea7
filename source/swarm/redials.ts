import {BoundedMap} from './bounded-map.js';

/** Redial counts remembered, at most: forgetting one only lets an old peer be called again. */
const maxRedialRecords = 4096;

/**
 * When a dialled peer that went away is called again: after `firstDelayMs`, doubling with each
 * departure in a row (trackers may not be asked again for many minutes, so a peer that restarts
 * is otherwise lost), until it has left `maxRedials` times without giving us a verified piece.
 */
export class RedialSchedule {
	readonly #departures = new BoundedMap<string, number>(maxRedialRecords);

	constructor(
		readonly firstDelayMs: number,
		readonly maxRedials: number,
	) {}

	/** The peer at `key` left: how long to wait before calling it again, or undefined to let it go. */
	left(key: string): number | undefined {
		const attempt = (this.#departures.get(key) ?? 0) + 1;
		this.#departures.set(key, attempt);
		return attempt > this.maxRedials ? undefined : this.firstDelayMs * 2 ** (attempt - 1);
	}

	/** It gave us a verified piece: its next departure starts the count again. */
	delivered(key: string): void {
		this.#departures.delete(key);
	}
}
