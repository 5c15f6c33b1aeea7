import type {FileHandle} from 'node:fs/promises';

type PendingWrite = {
	handle: FileHandle;
	data: Buffer;
	position: number;
	resolve: () => void;
	reject: (error: unknown) => void;
};

/** Calls in flight at once per file, as many as libuv has threads for file work by default. */
const maxCallsInFlight = 4;
/** One `writev` carries at most this many buffers (Linux's IOV_MAX is 1024)… */
const maxBuffersPerCall = 1024;
/** …and at most this many bytes, so one call never holds the file for long. */
const maxBytesPerCall = 16 * 1024 * 1024;

/**
 * Writes to one file with a few system calls in flight at most: while they run, later writes
 * wait, and those that land next to each other then go out together in one `writev`. With small
 * pieces (16 KiB) each piece was a write call of its own, some 100,000 of them for a 1.5 GB
 * torrent, and verified pieces come in mostly in order, so most of them now share a call. Until
 * the calls in flight are that many, a write starts at once: big pieces are not held back (one
 * call at a time cost 30–50 MB of pieces waiting in memory).
 */
export class WriteCoalescer {
	#pending: PendingWrite[] = [];
	#callsInFlight = 0;

	/** Writes all of `data` at `position`; resolves once it is in the file (the page cache, or the device for direct I/O). */
	write(handle: FileHandle, data: Buffer, position: number): Promise<void> {
		return new Promise((resolve, reject) => {
			this.#pending.push({handle, data, position, resolve, reject});
			this.#pump();
		});
	}

	#pump(): void {
		if (this.#callsInFlight >= maxCallsInFlight || this.#pending.length === 0) {
			return;
		}

		const batch = this.#pending.sort((a, b) => a.position - b.position);
		this.#pending = [];
		for (const run of contiguousRuns(batch)) {
			this.#callsInFlight++;
			writeRun(run)
				.then(
					() => {
						for (const write of run) {
							write.resolve();
						}
					},
					(error: unknown) => {
						for (const write of run) {
							write.reject(error);
						}
					},
				)
				.finally(() => {
					this.#callsInFlight--;
					this.#pump();
				});
		}
	}
}

/** Groups writes (sorted by position) into runs that one `writev` can carry. */
function* contiguousRuns(writes: PendingWrite[]): Generator<PendingWrite[]> {
	let run: PendingWrite[] = [];
	let end = 0;
	let bytes = 0;
	for (const write of writes) {
		const previous = run.at(-1);
		const joins =
			previous !== undefined &&
			write.handle === previous.handle &&
			write.position === end &&
			run.length < maxBuffersPerCall &&
			bytes + write.data.length <= maxBytesPerCall;
		if (!joins && run.length > 0) {
			yield run;
			run = [];
			bytes = 0;
		}

		run.push(write);
		end = write.position + write.data.length;
		bytes += write.data.length;
	}

	if (run.length > 0) {
		yield run;
	}
}

/** One run in one call, then whatever a short write left, piece by piece. */
async function writeRun(run: PendingWrite[]): Promise<void> {
	const [first] = run;
	if (!first) {
		return;
	}

	const buffers = run.map((write) => write.data);
	let {bytesWritten} = await first.handle.writev(buffers, first.position);
	for (const write of run) {
		const skip = Math.min(bytesWritten, write.data.length);
		bytesWritten -= skip;
		for (let written = skip; written < write.data.length; ) {
			const result = await write.handle.write(
				write.data,
				written,
				write.data.length - written,
				write.position + written,
			);
			written += result.bytesWritten;
		}
	}
}
