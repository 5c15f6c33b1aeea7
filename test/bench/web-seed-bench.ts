import {mkdir, open, rm, writeFile} from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import {parseArgs} from 'node:util';
import {type Nginx, startNginx} from '../helpers/nginx.js';
import {createTorrentWith, freePort, repoRoot, type Teardown, tempDir} from '../helpers/swarm-fixture.js';
import {aria2cCommand, type Measure, sha1Of, timed} from './timed.js';

const mib = 1024 * 1024;

type WebSeedScenario = {title: string; files: number; size: number; pieceLength: number};

export const webSeedScenarios: Record<string, WebSeedScenario> = {
	single: {title: '1 GiB, one file, 1 MiB pieces, from nginx', files: 1, size: 1024 * mib, pieceLength: mib},
	multi: {
		title: '256 MiB in 50 files, 256 KiB pieces, from nginx',
		files: 50,
		size: 256 * mib,
		pieceLength: 256 * 1024,
	},
	smoke: {
		title: '32 MiB in 5 files, 256 KiB pieces, from nginx (smoke)',
		files: 5,
		size: 32 * mib,
		pieceLength: 256 * 1024,
	},
};

const clients = ['torrent-rx', 'aria2c', 'curl'] as const;
type Client = (typeof clients)[number];

/** Incompressible files of uneven sizes that sum to `size`, flushed to disk; their paths below `root`. */
async function writeFiles(root: string, scenario: WebSeedScenario): Promise<string[]> {
	const names =
		scenario.files === 1
			? ['payload.bin']
			: Array.from(
					{length: scenario.files},
					(_, index) => `set/part ${String(index + 1).padStart(2, '0')}.bin`,
				);
	const weights = names.map((_, index) => 3 + ((index * 7) % 5));
	const sum = weights.reduce((a, b) => a + b, 0);
	const sizes = weights.map((weight) => Math.floor((scenario.size * weight) / sum));
	sizes[sizes.length - 1] = scenario.size - sizes.slice(0, -1).reduce((a, b) => a + b, 0);
	const chunk = Buffer.alloc(mib);
	for (const [index, name] of names.entries()) {
		const file = path.join(root, name);
		await mkdir(path.dirname(file), {recursive: true});
		const handle = await open(file, 'w');
		for (let written = 0; written < (sizes[index] ?? 0); written += chunk.length) {
			for (let at = 0; at < chunk.length; at += 4) {
				chunk.writeUInt32LE((Math.random() * 2 ** 32) >>> 0, at);
			}

			await handle.write(chunk, 0, Math.min(chunk.length, (sizes[index] ?? 0) - written));
		}

		await handle.sync();
		await handle.close();
	}

	return names;
}

/** Each client's command for the payload at `nginx` into `outputDir`. */
function commandOf(
	client: Client,
	torrentPath: string,
	nginx: Nginx,
	names: readonly string[],
	outputDir: string,
) {
	switch (client) {
		case 'torrent-rx':
			return [
				process.execPath,
				// `BENCH_NODE_FLAGS='--cpu-prof --cpu-prof-dir=DIR'` profiles torrent-rx's runs.
				...(process.env.BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []),
				path.join(repoRoot, 'dist', 'cli.js'),
				torrentPath,
				...['-o', outputDir, '--mode', 'minimal', '--no-metrics', '--no-history', '--no-dht'],
			];
		case 'aria2c':
			return aria2cCommand(outputDir, torrentPath);
		case 'curl':
			// One process for every file: its connection is kept alive from one to the next.
			return [
				'curl',
				'-sS',
				'--fail',
				'--create-dirs',
				...names.flatMap((name) => [
					'-o',
					path.join(outputDir, name),
					`${nginx.url}${name.split('/').map(encodeURIComponent).join('/')}`,
				]),
			];
		default:
			throw new Error(`no such client ${client as string}`);
	}
}

type Outcome = Measure & {requests: number};

async function attempt(
	client: Client,
	setup: {
		torrentPath: string;
		nginx: Nginx;
		names: readonly string[];
		expected: readonly string[];
		dir: string;
	},
): Promise<Outcome | {failure: string}> {
	const outputDir = path.join(setup.dir, `out-${client}`);
	await rm(outputDir, {recursive: true, force: true});
	await mkdir(outputDir);
	try {
		const before = (await setup.nginx.accessLog()).length;
		const result = await timed(commandOf(client, setup.torrentPath, setup.nginx, setup.names, outputDir));
		if (result.code !== 0) {
			return {failure: `exited ${result.code}: ${result.output.slice(-300)}`};
		}

		for (const [index, name] of setup.names.entries()) {
			if ((await sha1Of(path.join(outputDir, name)).catch(() => '')) !== setup.expected[index]) {
				return {failure: `${name} differs from the server's`};
			}
		}

		const requests = (await setup.nginx.accessLog(before + 1)).length - before;
		const {code: _, output: __, ...measure} = result;
		return {...measure, requests};
	} finally {
		await rm(outputDir, {recursive: true, force: true});
	}
}

const median = (values: number[]) => {
	const sorted = [...values].sort((a, b) => a - b);
	const middle = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

export type WebSeedResult = {
	id: string;
	title: string;
	pieces: number;
	clients: Partial<
		Record<Client, {wallSeconds: number; cpuSeconds: number; peakRssMiB: number; requests: number}>
	>;
	failures: Partial<Record<Client, string[]>>;
};

/** One scenario: its files behind nginx, its torrent, and `runs` rounds of every client, each round starting with another. */
export async function runWebSeedScenario(
	id: string,
	runs: number,
	resources: Teardown,
): Promise<WebSeedResult> {
	const scenario = webSeedScenarios[id];
	if (!scenario) {
		throw new Error(`no web-seed scenario ${id}`);
	}

	const dir = await tempDir(resources, 'torrent-rx-web-seed-bench-');
	const root = path.join(dir, 'www');
	process.stderr.write(`[${id}] writing ${scenario.size / mib} MiB in ${scenario.files} files\n`);
	const names = await writeFiles(root, scenario);
	const expected = await Promise.all(names.map((name) => sha1Of(path.join(root, name))));
	const nginx = await startNginx(resources, {root, port: await freePort()});
	const torrentPath = path.join(dir, `${id}.torrent`);
	const seedUrl = scenario.files === 1 ? `${nginx.url}payload.bin` : nginx.url;
	await createTorrentWith(path.join(root, scenario.files === 1 ? 'payload.bin' : 'set'), torrentPath, {
		pieceLength: scenario.pieceLength,
		v1Only: true,
		webSeeds: [seedUrl],
	});
	const measures = new Map<Client, Outcome[]>(clients.map((client) => [client, []]));
	const failures: WebSeedResult['failures'] = {};
	for (let run = 0; run < runs; run++) {
		for (const client of clients.map((_, index) => clients[(index + run) % clients.length] as Client)) {
			const outcome = await attempt(client, {torrentPath, nginx, names, expected, dir});
			if ('failure' in outcome) {
				failures[client] = [...(failures[client] ?? []), outcome.failure];
				process.stderr.write(`[${id}] run ${run + 1}/${runs} ${client}: FAILED, ${outcome.failure}\n`);
				continue;
			}

			measures.get(client)?.push(outcome);
			process.stderr.write(
				`[${id}] run ${run + 1}/${runs} ${client}: ${outcome.wallSeconds.toFixed(2)} s, ${outcome.cpuSeconds.toFixed(2)} CPU s, ${outcome.peakRssMiB.toFixed(0)} MiB, ${outcome.requests} requests\n`,
			);
		}
	}

	const result: WebSeedResult = {
		id,
		title: scenario.title,
		pieces: Math.ceil(scenario.size / scenario.pieceLength),
		clients: {},
		failures,
	};
	for (const [client, outcomes] of measures) {
		if (outcomes.length > 0) {
			const of = (key: 'wallSeconds' | 'cpuSeconds' | 'peakRssMiB' | 'requests') =>
				median(outcomes.map((outcome) => outcome[key]));
			result.clients[client] = {
				wallSeconds: of('wallSeconds'),
				cpuSeconds: of('cpuSeconds'),
				peakRssMiB: of('peakRssMiB'),
				requests: of('requests'),
			};
		}
	}

	return result;
}

/** The results as a Markdown table, with torrent-rx's ratios to curl and aria2c. */
export function webSeedTable(results: readonly WebSeedResult[]): string {
	const lines = [
		'| scenario | client | wall s | CPU s | CPU s/GiB | peak RSS MiB | HTTP requests | torrent-rx ÷ it (wall) |',
		'| --- | --- | --- | --- | --- | --- | --- | --- |',
	];
	for (const result of results) {
		const ours = result.clients['torrent-rx'];
		const size = webSeedScenarios[result.id]?.size ?? 1;
		for (const client of clients) {
			const measure = result.clients[client];
			if (!measure) {
				lines.push(
					`| ${result.id} | ${client} | failed: ${(result.failures[client] ?? []).join('; ').slice(0, 120)} | | | | | |`,
				);
				continue;
			}

			const ratio =
				ours && client !== 'torrent-rx' ? `${(ours.wallSeconds / measure.wallSeconds).toFixed(2)}×` : '';
			lines.push(
				`| ${result.id} | ${client} | ${measure.wallSeconds.toFixed(2)} | ${measure.cpuSeconds.toFixed(2)} | ${((measure.cpuSeconds * 1024 * mib) / size).toFixed(2)} | ${measure.peakRssMiB.toFixed(0)} | ${measure.requests} (${result.pieces} pieces) | ${ratio} |`,
			);
		}
	}

	return lines.join('\n');
}

async function main(): Promise<void> {
	const {values} = parseArgs({
		options: {
			scenarios: {type: 'string', default: 'single,multi'},
			runs: {type: 'string', default: '3'},
			json: {type: 'string'},
		},
	});
	const teardowns: Array<() => unknown> = [];
	const resources: Teardown = {teardown: (fn) => teardowns.push(fn)};
	try {
		const results: WebSeedResult[] = [];
		for (const id of values.scenarios.split(',')) {
			results.push(await runWebSeedScenario(id, Number(values.runs), resources));
		}

		process.stdout.write(`${webSeedTable(results)}\n`);
		if (values.json) {
			await mkdir(path.dirname(values.json), {recursive: true});
			await writeFile(values.json, JSON.stringify(results, null, 2));
		}
	} finally {
		for (const teardown of teardowns.reverse()) {
			await teardown();
		}
	}
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename ?? '')) {
	await main();
}
