import {PeerProtocolError} from '../errors.js';

/**
 * Changes of choke a peer may make a minute, in a burst or spread out. A choker changes a peer's
 * state once a round (BEP 3's mainline client: 10 s; libtorrent 15 s); aria2 drops a peer at 2
 * changes in 5 s. Each change is an event, and a line in the history log, so a peer that flaps
 * faster than any choker would is dropped. (Interest is not counted: a leecher that keeps up with
 * us turns interested with every piece we verify, and a change of it is no event.)
 */
const maxChokeChanges = 20;
const chokeChangeWindowMs = 60_000;

/** The changes of choke a peer may still make, refilled with time (a token bucket). */
export class ChokeChanges {
	#left = maxChokeChanges;
	#at: number;

	constructor(now: number) {
		this.#at = now;
	}

	/** The peer choked or unchoked us: past the rate, it is dropped (`PeerProtocolError`). */
	spend(now: number): void {
		const refill = ((now - this.#at) * maxChokeChanges) / chokeChangeWindowMs;
		this.#left = Math.min(maxChokeChanges, this.#left + refill);
		this.#at = now;
		if (this.#left < 1) {
			throw new PeerProtocolError(`choked and unchoked us more than ${maxChokeChanges} times a minute`);
		}

		this.#left--;
	}
}
