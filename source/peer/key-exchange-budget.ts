/**
 * How much Diffie-Hellman work strangers can make us do: a token bucket for MSE/PE key
 * exchanges with callers. Each costs two 768-bit modular exponentiations (our key, then the
 * shared secret; about a quarter of a millisecond here), and a caller can make us start one
 * with a single byte that is not a plaintext handshake, then hang up and call again. The swarm
 * caps the connections at once (`--max-peers`), which bounds how many handshakes are in
 * progress, not how fast they come; this bounds the rate: at 100 a second, a flood costs at
 * most a few percent of one core, while peers that call at a human pace never meet it.
 */
export class KeyExchangeBudget {
	readonly perSecond: number;
	readonly #burst: number;
	readonly #now: () => number;
	#tokens: number;
	#at: number;

	/** `now` in milliseconds (a scheduler's, so tests run it in virtual time). */
	constructor({perSecond, burst, now}: {perSecond: number; burst: number; now: () => number}) {
		this.perSecond = perSecond;
		this.#burst = burst;
		this.#now = now;
		this.#tokens = burst;
		this.#at = now();
	}

	/** Takes one key exchange from the budget: false when it is spent for now. */
	take(): boolean {
		const now = this.#now();
		this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) * this.perSecond) / 1000);
		this.#at = now;
		if (this.#tokens < 1) {
			return false;
		}

		this.#tokens -= 1;
		return true;
	}
}
