import {defer, finalize, type Observable} from 'rxjs';

/**
 * A fixed set of piece-sized buffers in shared memory, for reading pieces and handing them to
 * hashing workers without a copy. Allocating a fresh shared buffer per piece costs a mapping,
 * zeroing and page faults each time (seconds of system time per GiB); reusing a few costs none.
 */
export class SharedBufferPool {
	readonly #free: Buffer[];

	constructor(count: number, size: number) {
		this.#free = Array.from({length: count}, () => Buffer.from(new SharedArrayBuffer(size)));
	}

	/** Runs `use` with a buffer from the pool and returns the buffer when `use` is done. */
	with<T>(use: (buffer: Buffer) => Observable<T>): Observable<T> {
		return defer(() => {
			const buffer = this.#free.pop();
			if (!buffer) {
				throw new Error('buffer pool exhausted: run no more users at once than the pool has buffers');
			}

			return use(buffer).pipe(finalize(() => this.#free.push(buffer)));
		});
	}
}
