import {randomFillSync} from 'node:crypto';
import {mkdir, mkdtemp, open, readFile, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {
	concat,
	defer,
	filter,
	finalize,
	from,
	ignoreElements,
	merge,
	type Observable,
	Subject,
	share,
	switchMap,
	take,
	takeUntil,
} from 'rxjs';
import {parseMetainfo} from '../codec/metainfo.js';
import type {RunEvent} from '../events/events.js';
import {recordHistory} from '../events/history-log.js';
import {stampEvents} from '../events/stamp.js';
import {createHashWorkerPool} from '../hashing/worker-pool.js';
import {withResource} from '../rx/with-resource.js';
import {serveTracker} from '../tracker/server.js';
import {createTorrentFile} from './create.js';
import {interruptSignal} from './download.js';
import {runTorrent} from './run-torrent.js';
import {type ShowOptions, type ShowOutcome, showRun} from './show-run.js';

export type DemoCommand = {
	sizeBytes: number;
	seeders: number;
	keep: boolean;
	/** The history log of the demo's download: by default in its (temporary) folder; `false` for none. */
	historyFile?: string | false;
	/** How the demo's download is shown. */
	show: ShowOptions;
};

/** Random bytes, written a mebibyte at a time: incompressible, like a real payload. */
async function writePayload(file: string, size: number): Promise<void> {
	const handle = await open(file, 'w');
	try {
		const chunk = Buffer.alloc(1024 * 1024);
		for (let written = 0; written < size; written += chunk.length) {
			const length = Math.min(chunk.length, size - written);
			randomFillSync(chunk, 0, length);
			await handle.write(chunk, 0, length, written);
		}
	} finally {
		await handle.close();
	}
}

/**
 * `torrent-rx demo`: a whole swarm on 127.0.0.1 with no internet: a payload, its torrent, our
 * own tracker, several torrent-rx seeders in this process, and a download of it through the
 * normal pipeline and status view. Everything temporary is removed afterwards unless `keep`.
 */
export async function demoCommand(command: DemoCommand, interruptedExitCode: number): Promise<ShowOutcome> {
	const folder = await mkdtemp(path.join(tmpdir(), 'torrent-rx-demo-'));
	const seedFolder = path.join(folder, 'seed');
	const downloadFolder = path.join(folder, 'download');
	const hashers = createHashWorkerPool();
	try {
		await mkdir(seedFolder);
		const payload = path.join(seedFolder, 'torrent-rx-demo.bin');
		process.stderr.write(
			`Demo: writing ${Math.round(command.sizeBytes / 1e6)} MB of random data to ${folder}\n`,
		);
		await writePayload(payload, command.sizeBytes);
		const run$ = withResource(serveTracker({host: '127.0.0.1', port: 0, intervalSeconds: 30}), (tracker) =>
			defer(() =>
				from(
					createTorrentFile({
						target: payload,
						output: path.join(folder, 'demo.torrent'),
						trackers: [tracker.url],
						private: false,
					}),
				),
			).pipe(
				switchMap((torrentFile) => from(readFile(torrentFile))),
				switchMap((bytes) => {
					const metainfo = parseMetainfo(bytes);
					const common = {port: 0, listenHost: '127.0.0.1', maxPeers: 50, hashPiece: hashers.hashPiece};
					// The seeders share one folder: none of them keeps a resume file in it.
					const seeders$ = merge(
						...Array.from({length: command.seeders}, () =>
							runTorrent(metainfo, {...common, outputDir: seedFolder, seed: {}, resumeFile: false}),
						),
					).pipe(share());
					// The download starts once every seeder has told the tracker about itself.
					const seedersReady$ = seeders$.pipe(
						filter((event) => event.type === 'announce-answered'),
						take(command.seeders),
						ignoreElements(),
					);
					// The download ends by itself (its resume file saved); the seeders end with it.
					const downloadEnded$ = new Subject<void>();
					const downloader$: Observable<RunEvent> = runTorrent(metainfo, {
						...common,
						outputDir: downloadFolder,
					}).pipe(finalize(() => downloadEnded$.next()));
					return merge(
						seeders$.pipe(ignoreElements(), takeUntil(downloadEnded$)),
						concat(seedersReady$, downloader$),
					);
				}),
			),
		);
		const historyFile = command.historyFile ?? path.join(downloadFolder, 'history.log');
		return await showRun(
			run$.pipe(
				takeUntil(interruptSignal(interruptedExitCode)),
				stampEvents(),
				historyFile ? recordHistory(historyFile) : (events$) => events$,
			),
			command.show,
		);
	} finally {
		await hashers.close();
		if (command.keep) {
			process.stderr.write(`Demo: kept ${folder}\n`);
		} else {
			await rm(folder, {recursive: true, force: true});
		}
	}
}
