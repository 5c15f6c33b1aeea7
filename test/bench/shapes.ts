/**
 * `npm run bench:shapes`: torrents as people have them (issue 17). The same multi-file payload
 * as a hybrid torrent with BEP 47 pad files (libtorrent's defaults, as qBittorrent makes them)
 * and as a v1 torrent without, each from one libtorrent seeder on 127.0.0.1 behind a proxy that
 * counts the bytes it sends; torrent-rx downloads each, alternating, several runs: wall time,
 * bytes received, bytes written. Then a selection of about a quarter of the files of the v1
 * torrent: bytes received against the selected size.
 *
 *   npm run bench:shapes -- [--runs 3] [--size-mib 1024] [--json shapes.json]
 */
import {createHash} from 'node:crypto';
import {mkdir, readFile, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import {parseArgs} from 'node:util';
import {countingProxy} from '../helpers/counting-proxy.js';
import {
	announceSeeder,
	createTorrentWith,
	freePort,
	libtorrentView,
	makePayload,
	type Payload,
	repoRoot,
	startLibtorrentSeeder,
	startOpentracker,
	type Teardown,
	tempDir,
} from '../helpers/swarm-fixture.js';
import {type Measure, timed} from './timed.js';

const mib = 1024 * 1024;
const pieceLength = mib;

/** Files of uneven sizes (none a whole number of pieces) that sum to `total`: every boundary falls inside a piece. */
function fileSizes(total: number, count: number): number[] {
	const weights = Array.from({length: count}, (_, index) => 1 + ((index * 7919) % 13));
	const sum = weights.reduce((a, b) => a + b, 0);
	const sizes = weights.map((weight) => Math.floor((total * weight) / sum) + 4099 * (weight % 5));
	const last = total - sizes.slice(0, -1).reduce((a, b) => a + b, 0);
	return [...sizes.slice(0, -1), last];
}

type Shape = {
	label: string;
	torrentPath: string;
	counted: {bytes: number};
	userBytes: number;
	padBytes: number;
	/** The files in the torrent's order (libtorrent lists a folder as the file system does, not sorted), numbered from 1. */
	files: Array<{path: string; size: number}>;
};

/** A torrent of `payload` made by libtorrent, seeded by libtorrent behind a counting proxy announced to `tracker`. */
async function shapeOf(
	payload: Payload,
	dir: string,
	trackerUrl: string,
	{label, v1Only}: {label: string; v1Only: boolean},
): Promise<Shape & {infoHash: string; announcedHashes: string[]}> {
	const torrentPath = path.join(dir, `${label}.torrent`);
	const made = await createTorrentWith(payload.path, torrentPath, {
		pieceLength,
		v1Only,
		trackers: [[trackerUrl]],
	});
	const view = await libtorrentView(torrentPath);
	return {
		label,
		torrentPath,
		counted: {bytes: 0},
		userBytes: view.totalSize,
		padBytes: view.pieceCount * view.pieceLength - view.totalSize,
		files: view.files,
		infoHash: made.infoHash,
		announcedHashes: made.announcedHashes,
	};
}

async function seed(resources: Teardown, shape: Shape & {infoHash: string}, dir: string, trackerUrl: string) {
	const seeder = await startLibtorrentSeeder(resources, shape.torrentPath, dir, {
		readyTimeoutMs: 300_000,
		mode: 'seed-quietly',
		extra: ['checked'],
	});
	const proxy = await countingProxy(resources, seeder.port);
	await announceSeeder(trackerUrl, shape.infoHash, proxy.port);
	shape.counted = proxy.counted;
}

const sha1 = (data: Buffer) => createHash('sha1').update(data).digest('hex');

/** Whether each of `relativePaths` in `outputDir` is byte-identical to the payload's. */
async function sameFiles(
	outputDir: string,
	payload: Payload,
	relativePaths: readonly string[],
): Promise<boolean> {
	for (const relative of relativePaths) {
		const original = payload.files.find((file) => file.relativePath === relative);
		const written = await readFile(path.join(outputDir, relative)).catch(() => undefined);
		if (!original || !written || sha1(written) !== sha1(original.data)) {
			return false;
		}
	}

	return true;
}

type Outcome = Measure & {receivedBytes: number};

async function download(shape: Shape, outputDir: string, flags: string[] = []): Promise<Outcome> {
	await rm(outputDir, {recursive: true, force: true});
	await mkdir(outputDir);
	const before = shape.counted.bytes;
	const command = [
		process.execPath,
		path.join(repoRoot, 'dist', 'cli.js'),
		shape.torrentPath,
		'-o',
		outputDir,
		'--port',
		String(await freePort()),
		'--mode',
		'minimal',
		'--no-metrics',
		'--no-history',
		'--no-dht',
		'--encryption',
		'off',
		...flags,
	];
	const result = await timed(command);
	if (result.code !== 0) {
		throw new Error(`torrent-rx exited ${result.code}: ${result.output.slice(-1000)}`);
	}

	const {code: _, output: __, ...measure} = result;
	return {...measure, receivedBytes: shape.counted.bytes - before};
}

const median = (values: number[]) => {
	const sorted = [...values].sort((a, b) => a - b);
	const middle = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

function medianOf(outcomes: readonly Outcome[]): Outcome {
	const of = (key: 'wallSeconds' | 'cpuSeconds' | 'peakRssMiB' | 'writtenBytes' | 'receivedBytes') =>
		median(outcomes.map((outcome) => outcome[key]));
	return {
		wallSeconds: of('wallSeconds'),
		cpuSeconds: of('cpuSeconds'),
		peakRssMiB: of('peakRssMiB'),
		writtenBytes: of('writtenBytes'),
		receivedBytes: of('receivedBytes'),
	};
}

/** The files numbered from 1 whose sizes add up to about a quarter of the payload, from the middle of the torrent. */
function aQuarter(sizes: readonly number[]): number[] {
	const total = sizes.reduce((a, b) => a + b, 0);
	const picked: number[] = [];
	let bytes = 0;
	for (let index = Math.floor(sizes.length / 3); index < sizes.length && bytes < total / 4; index += 2) {
		picked.push(index + 1);
		bytes += sizes[index] ?? 0;
	}

	return picked;
}

const megabytes = (bytes: number) => (bytes / 1e6).toFixed(1);

async function main(): Promise<void> {
	const {values} = parseArgs({
		options: {
			runs: {type: 'string', default: '3'},
			'size-mib': {type: 'string', default: '1024'},
			json: {type: 'string'},
		},
	});
	const runs = Number(values.runs);
	const total = Number(values['size-mib']) * mib;
	const teardowns: Array<() => unknown> = [];
	const resources: Teardown = {teardown: (fn) => teardowns.push(fn)};
	try {
		const dir = await tempDir(resources, 'torrent-rx-shapes-');
		const sizes = fileSizes(total, 24);
		process.stderr.write(`writing ${total / mib} MiB in ${sizes.length} files\n`);
		const payload = await makePayload(dir, {
			name: 'set',
			files: sizes.map((length, index) => ({path: `part ${String(index + 1).padStart(2, '0')}.bin`, length})),
		});
		const trackerPort = await freePort();
		const trackerUrl = `http://127.0.0.1:${trackerPort}/announce`;
		const hybrid = await shapeOf(payload, dir, trackerUrl, {label: 'hybrid', v1Only: false});
		const v1 = await shapeOf(payload, dir, trackerUrl, {label: 'v1', v1Only: true});
		await startOpentracker(resources, [...hybrid.announcedHashes, ...v1.announcedHashes], {
			port: trackerPort,
		});
		await seed(resources, hybrid, dir, trackerUrl);
		await seed(resources, v1, dir, trackerUrl);
		const outputDir = path.join(dir, 'out');
		const everyFile = payload.files.map((file) => file.relativePath);
		const outcomes = new Map<string, Outcome[]>([
			['hybrid', []],
			['v1', []],
		]);
		for (let run = 0; run < runs; run++) {
			for (const shape of run % 2 === 0 ? [hybrid, v1] : [v1, hybrid]) {
				const outcome = await download(shape, outputDir);
				if (!(await sameFiles(outputDir, payload, everyFile))) {
					throw new Error(`${shape.label}: the files differ from the seeder's`);
				}

				outcomes.get(shape.label)?.push(outcome);
				process.stderr.write(
					`[${shape.label}] run ${run + 1}/${runs}: ${outcome.wallSeconds.toFixed(2)} s, ${megabytes(outcome.receivedBytes)} MB received, ${megabytes(outcome.writtenBytes)} MB written\n`,
				);
			}
		}

		const inOrder = v1.files.map((file) => file.size);
		const quarter = aQuarter(inOrder);
		const selectedBytes = quarter.reduce((sum, number) => sum + (inOrder[number - 1] ?? 0), 0);
		const selection = await download(v1, outputDir, ['--select', quarter.join(',')]);
		const selectedPaths = quarter.map((number) =>
			path.join(...(v1.files[number - 1]?.path ?? '').split('/')),
		);
		if (!(await sameFiles(outputDir, payload, selectedPaths))) {
			throw new Error('the selected files differ from the seeder’s');
		}

		const rows = [hybrid, v1].map((shape) => {
			const measure = medianOf(outcomes.get(shape.label) ?? []);
			return {shape: shape.label, userBytes: shape.userBytes, padBytes: shape.padBytes, ...measure};
		});
		const lines = [
			`| torrent | user bytes | pad bytes | wall s | CPU s | received MB | written MB |`,
			`| --- | --- | --- | --- | --- | --- | --- |`,
			...rows.map(
				(row) =>
					`| ${row.shape} | ${megabytes(row.userBytes)} MB | ${megabytes(row.padBytes)} MB | ${row.wallSeconds.toFixed(2)} | ${row.cpuSeconds.toFixed(2)} | ${megabytes(row.receivedBytes)} | ${megabytes(row.writtenBytes)} |`,
			),
			'',
			`selection of files ${quarter.join(',')} of ${sizes.length} (v1): ${megabytes(selectedBytes)} MB selected, ${megabytes(selection.receivedBytes)} MB received (${(selection.receivedBytes / selectedBytes).toFixed(3)}×), ${megabytes(selection.writtenBytes)} MB written, ${selection.wallSeconds.toFixed(2)} s`,
		];
		process.stdout.write(`${lines.join('\n')}\n`);
		if (values.json) {
			await mkdir(path.dirname(values.json), {recursive: true});
			await writeFile(
				values.json,
				JSON.stringify({runs, rows, selection: {files: quarter, selectedBytes, ...selection}}, null, 2),
			);
		}
	} finally {
		for (const teardown of teardowns.reverse()) {
			await teardown();
		}
	}
}

await main();
