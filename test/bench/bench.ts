/**
 * `npm run bench`: the same torrent downloaded by torrent-rx, aria2c and a libtorrent downloader
 * from the same libtorrent seeders on 127.0.0.1, alternating, several runs each; the medians and
 * torrent-rx's ratios to each reference, as a table on stdout and as JSON.
 *
 *   npm run bench -- [--scenarios a,b,c] [--runs 3] [--json bench-results.json]
 */
import {spawn} from 'node:child_process';
import {createHash, randomFillSync} from 'node:crypto';
import {createReadStream} from 'node:fs';
import {mkdir, mkdtemp, open, rm, writeFile} from 'node:fs/promises';
import {cpus, tmpdir} from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {parseArgs} from 'node:util';
import {
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

type Scenario = {title: string; size: number; pieceLength: number; seeders: number};

const scenarios: Record<string, Scenario> = {
	a: {title: '1 GiB, 1 MiB pieces, 1 seeder', size: gib, pieceLength: mib, seeders: 1},
	b: {title: '1 GiB, 1 MiB pieces, 4 seeders', size: gib, pieceLength: mib, seeders: 4},
	c: {
		title: '256 MiB in 4,096 pieces of 64 KiB, 1 seeder',
		size: 256 * mib,
		pieceLength: 64 * kib,
		seeders: 1,
	},
	smoke: {
		title: '32 MiB, 256 KiB pieces, 1 seeder (smoke)',
		size: 32 * mib,
		pieceLength: 256 * kib,
		seeders: 1,
	},
};

const clients = ['torrent-rx', 'aria2c', 'libtorrent'] as const;
type Client = (typeof clients)[number];

type Measure = {wallSeconds: number; cpuSeconds: number; peakRssMiB: number};

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

/** Incompressible bytes, a mebibyte at a time. */
async function writePayload(file: string, size: number): Promise<void> {
	const handle = await open(file, 'w');
	try {
		const chunk = Buffer.alloc(mib);
		for (let written = 0; written < size; written += chunk.length) {
			randomFillSync(chunk);
			await handle.write(chunk, 0, Math.min(chunk.length, size - written), written);
		}
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

/** Runs `command` under GNU time: wall seconds, user+sys CPU seconds and peak RSS of that process alone. */
function timed(
	command: string[],
	timeoutMs: number,
): Promise<Measure & {code: number | null; output: string}> {
	return new Promise((resolve, reject) => {
		const child = spawn('/usr/bin/time', ['-f', 'BENCH %e %U %S %M', ...command], {
			stdio: ['ignore', 'pipe', 'pipe'],
		});
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
			});
		});
	});
}

async function download(client: Client, torrentPath: string, outputDir: string): Promise<Measure> {
	const port = String(await freePort());
	const commands: Record<Client, string[]> = {
		'torrent-rx': [
			process.execPath,
			path.join(repoRoot, 'dist', 'cli.js'),
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
		],
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
	const result = await timed(commands[client], 660_000);
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
};

async function runScenario(
	id: string,
	scenario: Scenario,
	runs: number,
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
		await startOpentracker(resources, [infoHash], {port: trackerPort});
		for (let seeder = 0; seeder < scenario.seeders; seeder++) {
			await startLibtorrentSeeder(resources, torrentPath, dir, {readyTimeoutMs: 120_000});
		}

		const measures = new Map<Client, Measure[]>(clients.map((client) => [client, []]));
		for (let run = 0; run < runs; run++) {
			// A/B alternating, each run starting with another client.
			const order = clients.map((_, index) => clients[(index + run) % clients.length] as Client);
			for (const client of order) {
				const outputDir = path.join(dir, `out-${client}`);
				await rm(outputDir, {recursive: true, force: true});
				await mkdir(outputDir);
				const measure = await download(client, torrentPath, outputDir);
				const written = await sha1Of(path.join(outputDir, 'payload.bin'));
				if (written !== expected) {
					throw new Error(`${client} wrote a payload that differs from the seeders'`);
				}

				await rm(outputDir, {recursive: true, force: true});
				measures.get(client)?.push(measure);
				process.stderr.write(
					`[${id}] run ${run + 1}/${runs} ${client}: ${measure.wallSeconds.toFixed(2)} s, ${measure.cpuSeconds.toFixed(2)} CPU s, ${measure.peakRssMiB.toFixed(0)} MiB\n`,
				);
			}
		}

		const summary: ScenarioResult['clients'] = {};
		for (const [client, list] of measures) {
			const wallSeconds = median(list.map((measure) => measure.wallSeconds));
			const cpuSeconds = median(list.map((measure) => measure.cpuSeconds));
			summary[client] = {
				wallSeconds,
				cpuSeconds,
				peakRssMiB: median(list.map((measure) => measure.peakRssMiB)),
				megabytesPerSecond: scenario.size / 1e6 / wallSeconds,
				cpuSecondsPerGiB: (cpuSeconds * gib) / scenario.size,
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

		return {id, title: scenario.title, bytes: scenario.size, runs, clients: summary, ratios};
	} finally {
		await resources.close();
	}
}

function table(results: ScenarioResult[]): string {
	const lines = [
		'| scenario | client | wall s | MB/s | CPU s | CPU s/GiB | peak RSS MiB | torrent-rx ÷ it (wall, CPU) |',
		'| --- | --- | --- | --- | --- | --- | --- | --- |',
	];
	for (const result of results) {
		for (const [client, measure] of Object.entries(result.clients)) {
			const ratio = result.ratios[client];
			lines.push(
				`| ${result.id} | ${client} | ${measure.wallSeconds.toFixed(2)} | ${measure.megabytesPerSecond.toFixed(0)} | ${measure.cpuSeconds.toFixed(2)} | ${measure.cpuSecondsPerGiB.toFixed(2)} | ${measure.peakRssMiB.toFixed(0)} | ${ratio ? `${ratio.wall.toFixed(2)}×, ${ratio.cpu.toFixed(2)}×` : ''} |`,
			);
		}
	}

	return lines.join('\n');
}

const {values} = parseArgs({
	options: {
		scenarios: {type: 'string', default: 'a,b,c'},
		runs: {type: 'string', default: '3'},
		json: {type: 'string', default: 'bench-results.json'},
	},
});
const chosen = (values.scenarios ?? '').split(',').filter(Boolean);
const unknown = chosen.filter((id) => !(id in scenarios));
const runs = Number(values.runs);
if (unknown.length > 0 || !(Number.isInteger(runs) && runs > 0)) {
	process.stderr.write(`bench: scenarios are ${Object.keys(scenarios).join(', ')}; --runs a whole number\n`);
	process.exit(2);
}

const workDir = await mkdtemp(path.join(tmpdir(), 'torrent-rx-bench-'));
try {
	const results: ScenarioResult[] = [];
	for (const id of chosen) {
		results.push(await runScenario(id, scenarios[id] as Scenario, runs, workDir));
	}

	const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`;
	process.stdout.write(`\n${machine}; medians of ${runs} runs\n\n${table(results)}\n`);
	const jsonPath = values.json ?? 'bench-results.json';
	await mkdir(path.dirname(path.resolve(jsonPath)), {recursive: true});
	await writeFile(jsonPath, `${JSON.stringify({machine, results}, null, '\t')}\n`);
} finally {
	await rm(workDir, {recursive: true, force: true});
}
