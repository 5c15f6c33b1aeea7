import {availableParallelism} from 'node:os';
import {Worker} from 'node:worker_threads';
import {Observable} from 'rxjs';
import {type HashPort, hashOnMainThread} from './sha1.js';

/**
 * Pieces smaller than this are hashed on the calling thread: handing one to a worker and taking
 * the digest back costs some 25–50 µs here, more than SHA-1 of 64 KiB (about 45 µs).
 */
const handOverFromBytes = 128 * 1024;

/**
 * The worker's whole program. Inline (CommonJS, evaluated) so that it runs the same from the
 * compiled dist/ and from the TypeScript sources under tsx.
 */
const workerSource = `
const {parentPort} = require('node:worker_threads');
const {createHash} = require('node:crypto');
parentPort.on('message', ({id, data}) => {
	parentPort.postMessage({id, digest: createHash('sha1').update(data).digest()});
});
`;

type Job = {resolve: (digest: Buffer) => void; reject: (error: unknown) => void};

export type HashWorkerPool = {
	hashPiece: HashPort;
	/** How many workers have started: they start only when pieces big enough for them come. */
	readonly workersStarted: number;
	/** Stops the workers; hashes still pending fail. */
	close(): Promise<void>;
};

type HashWorker = {
	worker: Worker;
	jobs: Map<number, Job>;
	add(id: number, job: Job): void;
	forget(id: number): void;
};

function startWorker(): HashWorker {
	const worker = new Worker(workerSource, {eval: true});
	const jobs = new Map<number, Job>();
	worker.on('message', ({id, digest}: {id: number; digest: Uint8Array}) => {
		const job = jobs.get(id);
		forget(id);
		job?.resolve(Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength));
	});
	worker.on('error', (error) => {
		for (const job of jobs.values()) {
			job.reject(error);
		}

		jobs.clear();
	});
	// A worker keeps the process alive only while it has work.
	worker.unref();
	const forget = (id: number) => {
		if (jobs.delete(id) && jobs.size === 0) {
			worker.unref();
		}
	};

	const add = (id: number, job: Job) => {
		if (jobs.size === 0) {
			worker.ref();
		}

		jobs.set(id, job);
	};

	return {worker, jobs, add, forget};
}

/**
 * SHA-1 on worker threads, so that verifying pieces uses the other cores and never blocks the
 * event loop; small pieces are hashed where they are. Each piece goes to the worker with the
 * fewest jobs, and another worker starts (up to `size`) only when every one is busy: a worker
 * costs about 12 MB, and a torrent of small pieces never needs one. A piece in shared memory
 * (the download's piece buffers) is read by the worker where it is; any other is copied into the
 * message (about a tenth of the cost of hashing it). Either way the caller keeps its buffer,
 * and must not change it until the digest is back.
 */
export function createHashWorkerPool(
	size = Math.max(1, Math.min(4, availableParallelism())),
): HashWorkerPool {
	let nextId = 0;
	const workers: HashWorker[] = [];
	const leastBusy = () => {
		const least = workers.reduce<HashWorker | undefined>(
			(best, candidate) => (best && best.jobs.size <= candidate.jobs.size ? best : candidate),
			undefined,
		);
		if (least && (least.jobs.size === 0 || workers.length >= size)) {
			return least;
		}

		const started = startWorker();
		workers.push(started);
		return started;
	};

	const hashOnWorker: HashPort = (data) =>
		new Observable<Buffer>((subscriber) => {
			const target = leastBusy();
			const id = nextId++;
			target.add(id, {
				resolve(digest) {
					subscriber.next(digest);
					subscriber.complete();
				},
				reject: (error) => subscriber.error(error),
			});
			target.worker.postMessage({id, data});
			return () => {
				target.forget(id);
			};
		});

	return {
		hashPiece: (data) => (data.length < handOverFromBytes ? hashOnMainThread(data) : hashOnWorker(data)),
		get workersStarted() {
			return workers.length;
		},
		async close() {
			await Promise.all(workers.map(async ({worker}) => worker.terminate()));
		},
	};
}
