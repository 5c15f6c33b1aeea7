import {AlignedAllocator} from '../storage/aligned-memory.js';

/**
 * Buffers for pieces being downloaded, reused once a piece is written: a fresh buffer costs page
 * faults on first touch (about 1.4 s of system time per GiB here) and garbage collection after.
 * At most `maxBytes` are kept idle; beyond that a returned buffer is simply dropped.
 */
export class PieceBufferPool {
	readonly #idle = new Map<number, Buffer[]>();
	readonly #fresh = new AlignedAllocator();
	#idleBytes = 0;

	constructor(readonly maxBytes: number) {}

	take(length: number): Buffer {
		const buffer = this.#idle.get(length)?.pop();
		if (buffer) {
			this.#idleBytes -= length;
			return buffer;
		}

		// Shared, so a hashing worker reads the piece where it is; page-aligned, so the store can write
		// it with direct I/O.
		return this.#fresh.allocate(length);
	}

	/** The caller gives up `buffer` for good: nothing may read or write it afterwards. */
	give(buffer: Buffer): void {
		if (this.#idleBytes + buffer.length > this.maxBytes) {
			return;
		}

		const idle = this.#idle.get(buffer.length) ?? [];
		idle.push(buffer);
		this.#idle.set(buffer.length, idle);
		this.#idleBytes += buffer.length;
	}

	get idleBytes(): number {
		return this.#idleBytes;
	}
}
