/**
 * `npm run bench`: the same torrent downloaded by torrent-rx, aria2c and a libtorrent downloader
 * from the same libtorrent seeders on 127.0.0.1, alternating, several runs each; the medians and
 * torrent-rx's ratios to each reference, as a table on stdout and as JSON.
 *
 *   npm run bench -- [--scenarios a,b,c,d,e] [--runs 3] [--json bench-results.json]
 *                    [--clients torrent-rx,aria2c,libtorrent] [--baseline DIR]
 *
 * `--baseline DIR` adds another torrent-rx, built in DIR (a checkout of an older commit, after
 * `npm run build` there), as the client `baseline`: an A/B of a change in one run, against the
 * same seeders, alternating with the others.
 */
import {spawn} from 'node:child_process';
import {createHash, randomFillSync} from 'node:crypto';
import {createReadStream, existsSync} from 'node:fs';
import {mkdir, mkdtemp, open, rm, stat, writeFile} from 'node:fs/promises';
import {cpus, tmpdir} from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {parseArgs} from 'node:util';
import {type LinkOptions, startLatencyProxy} from '../helpers/latency-proxy.js';
import {
	announceSeeder,
	createTorrent,
	freePort,
	repoRoot,
	startLibtorrentSeeder,
	startOpentracker,
	type Teardown,
} from '../helpers/swarm-fixture.js';

const kib = 1024;
const mib = 1024 * kib;
const gib = 1024 * mib;

type Scenario = {
	title: string;
	size: number;
	pieceLength: number;
	seeders: number;
	/** Each seeder behind its own emulated link; the seeders' combined rate is the ceiling. */
	link?: LinkOptions;
	/** Also time each client's start-up: from launch to its first payload byte on disk. */
	startup?: boolean;
};

const scenarios: Record<string, Scenario> = {
	a: {title: '1 GiB, 1 MiB pieces, 1 seeder', size: gib, pieceLength: mib, seeders: 1},
	b: {title: '1 GiB, 1 MiB pieces, 4 seeders', size: gib, pieceLength: mib, seeders: 4},
	c: {
		title: '256 MiB in 4,096 pieces of 64 KiB, 1 seeder',
		size: 256 * mib,
		pieceLength: 64 * kib,
		seeders: 1,
	},
	d: {
		title: '256 MiB, 1 MiB pieces, 4 seeders each behind 25 ms each way and 10 MB/s',
		size: 256 * mib,
		pieceLength: mib,
		seeders: 4,
		link: {delayMs: 25, bytesPerSecond: 10e6, maxHeldBytes: mib},
	},
	e: {
		title: '100,000 pieces of 16 KiB (1.5 GiB), 1 seeder',
		size: 100_000 * 16 * kib,
		pieceLength: 16 * kib,
		seeders: 1,
		startup: true,
	},
	smoke: {
		title: '32 MiB, 256 KiB pieces, 1 seeder (smoke)',
		size: 32 * mib,
		pieceLength: 256 * kib,
		seeders: 1,
	},
};

const knownClients = ['torrent-rx', 'aria2c', 'libtorrent', 'baseline'] as const;
type Client = (typeof knownClients)[number];

type Measure = {wallSeconds: number; cpuSeconds: number; peakRssMiB: number; startupSeconds?: number};

/** Teardowns run in reverse, as ava runs them. */
function scope(): Teardown & {close(): Promise<void>} {
	const steps: Array<() => unknown> = [];
	return {
		teardown: (step) => steps.push(step),
		async close() {
			for (const step of steps.reverse()) {
				await step();
			}
		},
	};
}

/**
 * Incompressible bytes, a mebibyte at a time, flushed to disk: otherwise the kernel writes the
 * payload back during the first client's run, and that client pays for it.
 */
async function writePayload(file: string, size: number): Promise<void> {
	const handle = await open(file, 'w');
	try {
		const chunk = Buffer.alloc(mib);
		for (let written = 0; written < size; written += chunk.length) {
			randomFillSync(chunk);
			await handle.write(chunk, 0, Math.min(chunk.length, size - written), written);
		}

		await handle.sync();
	} finally {
		await handle.close();
	}
}

async function sha1Of(file: string): Promise<string> {
	const hash = createHash('sha1');
	for await (const chunk of createReadStream(file)) {
		hash.update(chunk as Buffer);
	}

	return hash.digest('hex');
}

/** Seconds from now until `file` first holds data on disk (polled), or undefined if it never does. */
function firstDataOnDisk(file: string): {seconds(): number | undefined; stop(): void} {
	const started = performance.now();
	let seconds: number | undefined;
	const timer = setInterval(() => {
		stat(file)
			.then((stats) => {
				if (stats.blocks > 0 && seconds === undefined) {
					seconds = (performance.now() - started) / 1000;
					clearInterval(timer);
				}
			})
			.catch(() => undefined);
	}, 10);
	return {seconds: () => seconds, stop: () => clearInterval(timer)};
}

/**
 * Runs `command` under GNU time: wall seconds, user+sys CPU seconds and peak RSS of that process
 * alone; with `watchFile`, also the start-up time until that file first holds data.
 */
function timed(
	command: string[],
	timeoutMs: number,
	watchFile?: string,
): Promise<Measure & {code: number | null; output: string}> {
	return new Promise((resolve, reject) => {
		const child = spawn('/usr/bin/time', ['-f', 'BENCH %e %U %S %M', ...command], {
			stdio: ['ignore', 'pipe', 'pipe'],
		});
		const startup = watchFile ? firstDataOnDisk(watchFile) : undefined;
		let output = '';
		child.stdout.on('data', (chunk: Buffer) => {
			output += chunk.toString();
		});
		child.stderr.on('data', (chunk: Buffer) => {
			output += chunk.toString();
		});
		const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
		child.once('error', reject);
		child.once('close', (code) => {
			clearTimeout(timer);
			startup?.stop();
			const match = /BENCH ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(output);
			if (!match) {
				reject(new Error(`no measurement from ${command.join(' ')}:\n${output.slice(-2000)}`));
				return;
			}

			resolve({
				code,
				output,
				wallSeconds: Number(match[1]),
				cpuSeconds: Number(match[2]) + Number(match[3]),
				peakRssMiB: Number(match[4]) / 1024,
				...(startup?.seconds() === undefined ? {} : {startupSeconds: startup.seconds()}),
			});
		});
	});
}

async function download(
	client: Client,
	torrentPath: string,
	outputDir: string,
	watchStartup: boolean,
): Promise<Measure> {
	const port = String(await freePort());
	const torrentRx = (root: string) => [
		process.execPath,
		path.join(root, 'dist', 'cli.js'),
		torrentPath,
		'-o',
		outputDir,
		'--port',
		port,
		'--mode',
		'minimal',
		'--no-metrics',
		'--no-history',
		'--no-dht',
	];
	const commands: Record<Client, string[]> = {
		'torrent-rx': torrentRx(repoRoot),
		baseline: torrentRx(baselineRoot ?? repoRoot),
		aria2c: [
			'aria2c',
			'-q',
			`--dir=${outputDir}`,
			'--seed-time=0',
			'--enable-dht=false',
			'--enable-dht6=false',
			'--bt-enable-lpd=false',
			'--enable-peer-exchange=false',
			'--file-allocation=none',
			'--bt-require-crypto=false',
			`--listen-port=${port}`,
			torrentPath,
		],
		libtorrent: [
			'/usr/bin/python3',
			path.join(repoRoot, 'test', 'helpers', 'libtorrent-peer.py'),
			'download',
			torrentPath,
			outputDir,
			'600',
		],
	};
	const result = await timed(
		commands[client],
		660_000,
		watchStartup ? path.join(outputDir, 'payload.bin') : undefined,
	);
	if (result.code !== 0) {
		throw new Error(`${client} exited ${result.code}:\n${result.output.slice(-2000)}`);
	}

	return result;
}

const median = (values: number[]) => {
	const sorted = [...values].sort((a, b) => a - b);
	const middle = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

type ScenarioResult = {
	id: string;
	title: string;
	bytes: number;
	runs: number;
	clients: Record<string, Measure & {megabytesPerSecond: number; cpuSecondsPerGiB: number}>;
	ratios: Record<string, {wall: number; cpu: number; rss: number}>;
	/** The seeders' combined rate, where their links cap it. */
	ceilingMegabytesPerSecond?: number;
};

async function runScenario(
	id: string,
	scenario: Scenario,
	{runs, clients}: {runs: number; clients: readonly Client[]},
	workDir: string,
): Promise<ScenarioResult> {
	const resources = scope();
	try {
		const dir = path.join(workDir, id);
		await mkdir(dir, {recursive: true});
		const payloadPath = path.join(dir, 'payload.bin');
		process.stderr.write(`[${id}] writing ${scenario.size / mib} MiB and its torrent\n`);
		await writePayload(payloadPath, scenario.size);
		const expected = await sha1Of(payloadPath);
		const trackerPort = await freePort();
		const {torrentPath, infoHash} = await createTorrent(
			payloadPath,
			`http://127.0.0.1:${trackerPort}/announce`,
			scenario.pieceLength,
			{torrentPath: path.join(dir, 'payload.torrent')},
		);
		const tracker = await startOpentracker(resources, [infoHash], {port: trackerPort});
		for (let seeder = 0; seeder < scenario.seeders; seeder++) {
			if (scenario.link) {
				// Reached only through its link: it does not announce itself, its proxy is announced instead.
				const {port} = await startLibtorrentSeeder(resources, torrentPath, dir, {
					readyTimeoutMs: 120_000,
					mode: 'seed-quietly',
					extra: ['checked'],
				});
				const proxy = await startLatencyProxy(resources, port, scenario.link);
				await announceSeeder(tracker.url, infoHash, proxy.port);
			} else {
				// Checked before seeding: in libtorrent's seed mode the first downloader (always torrent-rx,
				// in the first run) paid for the seeders hashing each piece as they sent it.
				await startLibtorrentSeeder(resources, torrentPath, dir, {
					readyTimeoutMs: 120_000,
					extra: ['checked'],
				});
			}
		}

		const measures = new Map<Client, Measure[]>(clients.map((client) => [client, []]));
		for (let run = 0; run < runs; run++) {
			// A/B alternating, each run starting with another client.
			const order = clients.map((_, index) => clients[(index + run) % clients.length] as Client);
			for (const client of order) {
				const outputDir = path.join(dir, `out-${client}`);
				await rm(outputDir, {recursive: true, force: true});
				await mkdir(outputDir);
				const measure = await download(client, torrentPath, outputDir, scenario.startup === true);
				const written = await sha1Of(path.join(outputDir, 'payload.bin'));
				if (written !== expected) {
					throw new Error(`${client} wrote a payload that differs from the seeders'`);
				}

				await rm(outputDir, {recursive: true, force: true});
				measures.get(client)?.push(measure);
				const startup =
					measure.startupSeconds === undefined
						? ''
						: `, first data after ${measure.startupSeconds.toFixed(2)} s`;
				process.stderr.write(
					`[${id}] run ${run + 1}/${runs} ${client}: ${measure.wallSeconds.toFixed(2)} s, ${measure.cpuSeconds.toFixed(2)} CPU s, ${measure.peakRssMiB.toFixed(0)} MiB${startup}\n`,
				);
			}
		}

		const summary: ScenarioResult['clients'] = {};
		for (const [client, list] of measures) {
			const wallSeconds = median(list.map((measure) => measure.wallSeconds));
			const cpuSeconds = median(list.map((measure) => measure.cpuSeconds));
			const startups = list.flatMap((measure) =>
				measure.startupSeconds === undefined ? [] : [measure.startupSeconds],
			);
			summary[client] = {
				wallSeconds,
				cpuSeconds,
				peakRssMiB: median(list.map((measure) => measure.peakRssMiB)),
				megabytesPerSecond: scenario.size / 1e6 / wallSeconds,
				cpuSecondsPerGiB: (cpuSeconds * gib) / scenario.size,
				...(startups.length > 0 ? {startupSeconds: median(startups)} : {}),
			};
		}

		const ours = summary['torrent-rx'];
		const ratios: ScenarioResult['ratios'] = {};
		for (const client of clients.filter((name) => name !== 'torrent-rx')) {
			const theirs = summary[client];
			if (ours && theirs) {
				ratios[client] = {
					wall: ours.wallSeconds / theirs.wallSeconds,
					cpu: ours.cpuSeconds / theirs.cpuSeconds,
					rss: ours.peakRssMiB / theirs.peakRssMiB,
				};
			}
		}

		const ceiling = scenario.link ? (scenario.seeders * scenario.link.bytesPerSecond) / 1e6 : undefined;
		return {
			id,
			title: scenario.title,
			bytes: scenario.size,
			runs,
			clients: summary,
			ratios,
			...(ceiling === undefined ? {} : {ceilingMegabytesPerSecond: ceiling}),
		};
	} finally {
		await resources.close();
	}
}

function table(results: ScenarioResult[]): string {
	const lines = [
		'| scenario | client | wall s | MB/s | CPU s | CPU s/GiB | peak RSS MiB | torrent-rx ÷ it (wall, CPU) | notes |',
		'| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
	];
	for (const result of results) {
		for (const [client, measure] of Object.entries(result.clients)) {
			const ratio = result.ratios[client];
			const notes = [
				result.ceilingMegabytesPerSecond === undefined
					? ''
					: `${((100 * measure.megabytesPerSecond) / result.ceilingMegabytesPerSecond).toFixed(0)}% of the seeders' ${result.ceilingMegabytesPerSecond} MB/s`,
				measure.startupSeconds === undefined
					? ''
					: `first data on disk after ${measure.startupSeconds.toFixed(2)} s`,
			]
				.filter(Boolean)
				.join('; ');
			lines.push(
				`| ${result.id} | ${client} | ${measure.wallSeconds.toFixed(2)} | ${measure.megabytesPerSecond.toFixed(0)} | ${measure.cpuSeconds.toFixed(2)} | ${measure.cpuSecondsPerGiB.toFixed(2)} | ${measure.peakRssMiB.toFixed(0)} | ${ratio ? `${ratio.wall.toFixed(2)}×, ${ratio.cpu.toFixed(2)}×` : ''} | ${notes} |`,
			);
		}
	}

	return lines.join('\n');
}

/** Scale: torrent-rx's peak memory on (e) against (a), when both ran. */
function scaleNote(results: ScenarioResult[]): string {
	const memoryOf = (id: string) =>
		results.find((result) => result.id === id)?.clients['torrent-rx']?.peakRssMiB;
	const [small, large] = [memoryOf('a'), memoryOf('e')];
	return small && large ? `\ntorrent-rx peak RSS, (e) ÷ (a): ${(large / small).toFixed(2)}×\n` : '';
}

const {values} = parseArgs({
	options: {
		scenarios: {type: 'string', default: 'a,b,c,d,e'},
		runs: {type: 'string', default: '3'},
		json: {type: 'string', default: 'bench-results.json'},
		clients: {type: 'string'},
		baseline: {type: 'string'},
	},
});
const baselineRoot = values.baseline === undefined ? undefined : path.resolve(values.baseline);
const chosen = (values.scenarios ?? '').split(',').filter(Boolean);
const unknown = chosen.filter((id) => !(id in scenarios));
const runs = Number(values.runs);
const clients = (
	values.clients ?? `torrent-rx,aria2c,libtorrent${baselineRoot === undefined ? '' : ',baseline'}`
)
	.split(',')
	.filter(Boolean) as Client[];
const unknownClients = clients.filter((client) => !knownClients.includes(client));
if (unknown.length > 0 || unknownClients.length > 0 || !(Number.isInteger(runs) && runs > 0)) {
	process.stderr.write(
		`bench: scenarios are ${Object.keys(scenarios).join(', ')}; clients ${knownClients.join(', ')}; --runs a whole number\n`,
	);
	process.exit(2);
}

if (clients.includes('baseline') && !existsSync(path.join(baselineRoot ?? '', 'dist', 'cli.js'))) {
	process.stderr.write(
		'bench: the baseline client needs --baseline DIR, a checkout built with `npm run build`\n',
	);
	process.exit(2);
}

const workDir = await mkdtemp(path.join(tmpdir(), 'torrent-rx-bench-'));
try {
	const results: ScenarioResult[] = [];
	for (const id of chosen) {
		results.push(await runScenario(id, scenarios[id] as Scenario, {runs, clients}, workDir));
	}

	const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`;
	process.stdout.write(`\n${machine}; medians of ${runs} runs\n\n${table(results)}\n${scaleNote(results)}`);
	const jsonPath = values.json ?? 'bench-results.json';
	await mkdir(path.dirname(path.resolve(jsonPath)), {recursive: true});
	await writeFile(jsonPath, `${JSON.stringify({machine, results}, null, '\t')}\n`);
} finally {
	await rm(workDir, {recursive: true, force: true});
}
