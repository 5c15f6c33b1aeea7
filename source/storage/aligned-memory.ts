/**
 * Direct I/O (`O_DIRECT`) wants the memory address, the file position and the length aligned to
 * the device's block. A page covers every block size in use (512 and 4,096 bytes).
 */
export const directIoAlignment = 4096;

/** Small pieces share a slab; a slab's memory is freed once none of its buffers is referenced. */
const slabBytes = 4 * 1024 * 1024;
const wasmPageBytes = 64 * 1024;

/** The backing memory of every slab `AlignedAllocator` cuts buffers from: page-aligned. */
const pageAlignedMemory = new WeakSet<ArrayBufferLike>();

const roundUp = (value: number, step: number) => Math.ceil(value / step) * step;

/**
 * Hands out shared, zeroed buffers whose memory starts on a page boundary, which JavaScript cannot
 * otherwise ask for: a shared WebAssembly memory is a page-aligned mapping, cut here into
 * page-aligned pieces. A hashing worker reads them without a copy, as any `SharedArrayBuffer`.
 */
export class AlignedAllocator {
	#slab: SharedArrayBuffer | undefined;
	#used = 0;
	#unavailable = false;

	allocate(length: number): Buffer {
		const stride = roundUp(Math.max(length, 1), directIoAlignment);
		if (!this.#slab || this.#used + stride > this.#slab.byteLength) {
			this.#slab = this.#newSlab(Math.max(slabBytes, roundUp(stride, wasmPageBytes)));
			this.#used = 0;
		}

		if (!this.#slab) {
			return Buffer.from(new SharedArrayBuffer(length));
		}

		const buffer = Buffer.from(this.#slab, this.#used, length);
		this.#used += stride;
		return buffer;
	}

	#newSlab(bytes: number): SharedArrayBuffer | undefined {
		if (this.#unavailable) {
			return undefined;
		}

		try {
			const pages = bytes / wasmPageBytes;
			// A shared memory's buffer is a SharedArrayBuffer.
			const buffer = new WebAssembly.Memory({initial: pages, maximum: pages, shared: true})
				.buffer as SharedArrayBuffer;
			pageAlignedMemory.add(buffer);
			return buffer;
		} catch {
			// Address space capped (ulimit -v) or no WebAssembly: plain shared memory, buffered writes.
			this.#unavailable = true;
			return undefined;
		}
	}
}

/** Whether `data` may be written at `position` with direct I/O. */
export function directWritable(data: Buffer, position: number): boolean {
	return (
		data.byteOffset % directIoAlignment === 0 &&
		data.length % directIoAlignment === 0 &&
		position % directIoAlignment === 0 &&
		data.length > 0 &&
		pageAlignedMemory.has(data.buffer)
	);
}
