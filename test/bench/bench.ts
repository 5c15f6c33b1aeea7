/**
 * `npm run bench`: the same torrent downloaded by torrent-rx, aria2c and a libtorrent downloader
 * from the same libtorrent seeders on 127.0.0.1, alternating, several runs each; the medians and
 * torrent-rx's ratios to each reference, as a table on stdout and as JSON.
 *
 *   npm run bench -- [--scenarios a,b,c,d,e,web-single,web-multi] [--runs 3] [--json bench-results.json]
 *                    [--clients torrent-rx,aria2c,libtorrent] [--baseline DIR]
 *                    [--encryption plaintext|require|both]
 *
 * `--baseline DIR` adds another torrent-rx, built in DIR (a checkout of an older commit, after
 * `npm run build` there), as the client `baseline`: an A/B of a change in one run, against the
 * same seeders, alternating with the others.
 *
 * `--encryption require` runs each scenario against seeders that take MSE/PE connections with RC4
 * only, every downloader told to require it too (rows `a (rc4)`); `both` runs the plaintext and
 * the encrypted variant side by side, alternating, so that encryption's cost is measured within
 * one invocation. The default, `plaintext`, is the benchmark as it was before.
 */
import {randomFillSync} from 'node:crypto';
import {existsSync} from 'node:fs';
import {mkdir, mkdtemp, open, rm, writeFile} from 'node:fs/promises';
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
import {aria2cCommand, downloadTimeoutSeconds, type Measure, sha1Of, timed} from './timed.js';
import {runWebSeedScenario, type WebSeedResult, webSeedScenarios, webSeedTable} from './web-seed-bench.js';

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

/**
 * A scenario's variants: its swarm as it is, or one whose seeders and downloaders all require
 * MSE/PE with RC4 (issue 16), to be set beside the plaintext rows of the same invocation.
 */
type Encryption = 'plaintext' | 'rc4';
const encryptionChoices: Record<string, readonly Encryption[]> = {
	plaintext: ['plaintext'],
	require: ['rc4'],
	both: ['plaintext', 'rc4'],
};

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

/**
 * The command line (and environment) of one client's download. For `rc4`, each is told to take
 * encrypted connections only, with RC4 rather than MSE's plaintext mode, as the seeders are.
 */
function clientCommand(
	client: Client,
	encryption: Encryption,
	{torrentPath, outputDir, port}: {torrentPath: string; outputDir: string; port: string},
): {command: string[]; env?: NodeJS.ProcessEnv} {
	const encrypted = encryption === 'rc4';
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
		...(encrypted ? ['--encryption', 'require'] : []),
	];
	const commands: Record<Client, string[]> = {
		'torrent-rx': torrentRx(repoRoot),
		baseline: torrentRx(baselineRoot ?? repoRoot),
		aria2c: aria2cCommand(outputDir, torrentPath, [
			...(encrypted
				? ['--bt-require-crypto=true', '--bt-min-crypto-level=arc4']
				: ['--bt-require-crypto=false']),
			`--listen-port=${port}`,
		]),
		libtorrent: [
			'/usr/bin/python3',
			path.join(repoRoot, 'test', 'helpers', 'libtorrent-peer.py'),
			'download',
			torrentPath,
			outputDir,
			'600',
		],
	};
	// libtorrent-peer.py reads its encryption policy from the environment, as the seeders do.
	const env =
		client === 'libtorrent' && encrypted ? {...process.env, TORRENT_RX_LT_ENCRYPTION: 'forced'} : undefined;
	return {command: commands[client], ...(env ? {env} : {})};
}

/** The last lines a failed client printed, on one line, for the table. */
function lastWords(output: string): string {
	const lines = output
		.split('\n')
		.map((line) => line.trim())
		.filter((line) => line && !line.startsWith('BENCH ') && !line.startsWith('Command exited with'));
	const text = lines.slice(-2).join(' / ');
	return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

type Download = {torrentPath: string; outputDir: string; expected: string; watchStartup: boolean};

/**
 * One client's download into a fresh `outputDir`, checked against the seeders' payload. A failure
 * comes back as its reason, with the client's output on stderr, so that one client that cannot
 * download ends up in the table instead of ending the benchmark.
 */
async function attempt(
	client: Client,
	encryption: Encryption,
	{torrentPath, outputDir, expected, watchStartup}: Download,
): Promise<Measure | {failure: string}> {
	await rm(outputDir, {recursive: true, force: true});
	await mkdir(outputDir);
	try {
		const port = String(await freePort());
		const {command, env} = clientCommand(client, encryption, {torrentPath, outputDir, port});
		const payload = path.join(outputDir, 'payload.bin');
		const result = await timed(command, {
			...(env ? {env} : {}),
			...(watchStartup ? {watchFile: payload} : {}),
		});
		if (result.code !== 0) {
			// 137: `timeout` killed it (128 + SIGKILL).
			const why = result.code === 137 ? `killed after ${downloadTimeoutSeconds} s` : `exited ${result.code}`;
			process.stderr.write(`${client} ${why}:\n${result.output.slice(-2000)}\n`);
			return {failure: `${why}: ${lastWords(result.output)}`};
		}

		if ((await sha1Of(payload).catch(() => undefined)) !== expected) {
			return {failure: "wrote a payload that differs from the seeders'"};
		}

		const {code: _, output: __, ...measure} = result;
		return measure;
	} catch (error) {
		process.stderr.write(`${client}: ${String(error)}\n`);
		return {failure: error instanceof Error ? lastWords(error.message) : String(error)};
	} finally {
		await rm(outputDir, {recursive: true, force: true});
	}
}

const median = (values: number[]) => {
	const sorted = [...values].sort((a, b) => a - b);
	const middle = Math.floor(sorted.length / 2);
	return sorted.length % 2 ? (sorted[middle] ?? 0) : ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
};

type Summary = Measure & {megabytesPerSecond: number; cpuSecondsPerGiB: number};

type ScenarioResult = {
	id: string;
	/** The table's scenario column: the id, with ` (rc4)` for the encrypted variant. */
	label: string;
	encryption: Encryption;
	title: string;
	bytes: number;
	runs: number;
	/** Medians of each client's successful runs. */
	clients: Record<string, Summary>;
	/** torrent-rx ÷ each other client of the same variant. */
	ratios: Record<string, {wall: number; cpu: number; rss: number}>;
	/** Encrypted variant: each client ÷ its own plaintext run of this invocation (issue 16: ≤ 1.3× wall). */
	versusPlaintext?: Record<string, {wall: number; cpu: number}>;
	/** Why each failed run failed, by client. */
	failures: Record<string, string[]>;
	/** The seeders' combined rate, where their links cap it. */
	ceilingMegabytesPerSecond?: number;
};

/**
 * The tracker and seeders of one variant, and the torrent that names that tracker. Each variant
 * has a tracker of its own (both torrents describe the same payload), so that no downloader meets
 * the other variant's seeders: a client that falls back to MSE when a plaintext handshake is
 * refused (aria2c does) would otherwise also download from the encrypted seeders in plaintext runs.
 */
async function startSwarm(
	resources: Teardown,
	scenario: Scenario,
	{dir, payloadPath, encryption}: {dir: string; payloadPath: string; encryption: Encryption},
): Promise<string> {
	const trackerPort = await freePort();
	const {torrentPath, infoHash} = await createTorrent(
		payloadPath,
		`http://127.0.0.1:${trackerPort}/announce`,
		scenario.pieceLength,
		{torrentPath: path.join(dir, encryption === 'rc4' ? 'payload-rc4.torrent' : 'payload.torrent')},
	);
	const tracker = await startOpentracker(resources, [infoHash], {port: trackerPort});
	const forced = encryption === 'rc4' ? ({encryption: 'forced'} as const) : {};
	for (let seeder = 0; seeder < scenario.seeders; seeder++) {
		if (scenario.link) {
			// Reached only through its link: it does not announce itself, its proxy is announced instead.
			const {port} = await startLibtorrentSeeder(resources, torrentPath, dir, {
				readyTimeoutMs: 120_000,
				mode: 'seed-quietly',
				extra: ['checked'],
				...forced,
			});
			const proxy = await startLatencyProxy(resources, port, scenario.link);
			await announceSeeder(tracker.url, infoHash, proxy.port);
		} else {
			// Checked before seeding: in libtorrent's seed mode the first downloader (always torrent-rx,
			// in the first run) paid for the seeders hashing each piece as they sent it.
			await startLibtorrentSeeder(resources, torrentPath, dir, {
				readyTimeoutMs: 120_000,
				extra: ['checked'],
				...forced,
			});
		}
	}

	return torrentPath;
}

type Variant = {encryption: Encryption; label: string; torrentPath: string; clients: readonly Client[]};
type Outcomes = Map<Client, {measures: Measure[]; failures: string[]}>;

/**
 * Every run of every variant: A/B alternating, each run starting with another variant and, within
 * it, another client, so that drift over the invocation (page cache, a neighbour's load) is shared.
 */
async function measureRuns(
	variants: readonly Variant[],
	{runs, dir, expected, startup}: {runs: number; dir: string; expected: string; startup: boolean},
): Promise<Map<Encryption, Outcomes>> {
	const outcomes = new Map(
		variants.map((variant) => [
			variant.encryption,
			new Map(variant.clients.map((client) => [client, {measures: [], failures: []}])) as Outcomes,
		]),
	);
	const rotate = <T>(list: readonly T[], by: number) =>
		list.map((_, index) => list[(index + by) % list.length] as T);
	for (let run = 0; run < runs; run++) {
		for (const variant of rotate(variants, run)) {
			for (const client of rotate(variant.clients, run)) {
				const outputDir = path.join(dir, `out-${client}-${variant.encryption}`);
				const torrentPath = variant.torrentPath;
				const outcome = await attempt(client, variant.encryption, {
					torrentPath,
					outputDir,
					expected,
					watchStartup: startup,
				});
				const record = outcomes.get(variant.encryption)?.get(client);
				const prefix = `[${variant.label}] run ${run + 1}/${runs} ${client}`;
				if ('failure' in outcome) {
					record?.failures.push(outcome.failure);
					process.stderr.write(`${prefix}: FAILED, ${outcome.failure}\n`);
					continue;
				}

				record?.measures.push(outcome);
				const firstData =
					outcome.startupSeconds === undefined
						? ''
						: `, first data after ${outcome.startupSeconds.toFixed(2)} s`;
				process.stderr.write(
					`${prefix}: ${outcome.wallSeconds.toFixed(2)} s, ${outcome.cpuSeconds.toFixed(2)} CPU s, ${outcome.peakRssMiB.toFixed(0)} MiB${firstData}\n`,
				);
			}
		}
	}

	return outcomes;
}

/** Medians of each client's successful runs; a client without one is left out (its failures say why). */
function summarize(scenario: Scenario, outcomes: Outcomes): ScenarioResult['clients'] {
	const summary: ScenarioResult['clients'] = {};
	for (const [client, {measures}] of outcomes) {
		if (measures.length === 0) {
			continue;
		}

		const wallSeconds = median(measures.map((measure) => measure.wallSeconds));
		const cpuSeconds = median(measures.map((measure) => measure.cpuSeconds));
		const startups = measures.flatMap((measure) =>
			measure.startupSeconds === undefined ? [] : [measure.startupSeconds],
		);
		summary[client] = {
			wallSeconds,
			cpuSeconds,
			peakRssMiB: median(measures.map((measure) => measure.peakRssMiB)),
			writtenBytes: median(measures.map((measure) => measure.writtenBytes)),
			megabytesPerSecond: scenario.size / 1e6 / wallSeconds,
			cpuSecondsPerGiB: (cpuSeconds * gib) / scenario.size,
			...(startups.length > 0 ? {startupSeconds: median(startups)} : {}),
		};
	}

	return summary;
}

/** torrent-rx ÷ each other client that has medians. */
function ratiosOf(summary: ScenarioResult['clients']): ScenarioResult['ratios'] {
	const ours = summary['torrent-rx'];
	const ratios: ScenarioResult['ratios'] = {};
	for (const [client, theirs] of Object.entries(summary)) {
		if (ours && client !== 'torrent-rx') {
			ratios[client] = {
				wall: ours.wallSeconds / theirs.wallSeconds,
				cpu: ours.cpuSeconds / theirs.cpuSeconds,
				rss: ours.peakRssMiB / theirs.peakRssMiB,
			};
		}
	}

	return ratios;
}

/** Each client of `encrypted` ÷ the same client in `plaintext`, where both have medians. */
function versusPlaintext(
	encrypted: ScenarioResult['clients'],
	plaintext: ScenarioResult['clients'],
): NonNullable<ScenarioResult['versusPlaintext']> {
	const ratios: NonNullable<ScenarioResult['versusPlaintext']> = {};
	for (const [client, ours] of Object.entries(encrypted)) {
		const theirs = plaintext[client];
		if (theirs) {
			ratios[client] = {
				wall: ours.wallSeconds / theirs.wallSeconds,
				cpu: ours.cpuSeconds / theirs.cpuSeconds,
			};
		}
	}

	return ratios;
}

/** One variant's row group: medians, ratios and failures; `versusPlaintext` is set by the caller. */
function resultOf(
	id: string,
	scenario: Scenario,
	runs: number,
	variant: Variant,
	outcomes: Outcomes,
): ScenarioResult {
	const summary = summarize(scenario, outcomes);
	const failures = Object.fromEntries(
		[...outcomes].flatMap(([client, {failures}]) => (failures.length > 0 ? [[client, failures]] : [])),
	);
	const ceiling = scenario.link ? (scenario.seeders * scenario.link.bytesPerSecond) / 1e6 : undefined;
	return {
		id,
		label: variant.label,
		encryption: variant.encryption,
		title: scenario.title,
		bytes: scenario.size,
		runs,
		clients: summary,
		ratios: ratiosOf(summary),
		failures,
		...(ceiling === undefined ? {} : {ceilingMegabytesPerSecond: ceiling}),
	};
}

/** One scenario, in each of `encryptions`: one result per variant, plaintext first. */
async function runScenario(
	id: string,
	scenario: Scenario,
	{
		runs,
		clients,
		encryptions,
	}: {runs: number; clients: readonly Client[]; encryptions: readonly Encryption[]},
	workDir: string,
): Promise<ScenarioResult[]> {
	const resources = scope();
	try {
		const dir = path.join(workDir, id);
		await mkdir(dir, {recursive: true});
		const payloadPath = path.join(dir, 'payload.bin');
		process.stderr.write(`[${id}] writing ${scenario.size / mib} MiB and its torrent\n`);
		await writePayload(payloadPath, scenario.size);
		const expected = await sha1Of(payloadPath);
		const variants: Variant[] = [];
		for (const encryption of encryptions) {
			const torrentPath = await startSwarm(resources, scenario, {dir, payloadPath, encryption});
			// A baseline from before `--encryption` fails its rc4 runs, and says so.
			variants.push({
				encryption,
				label: encryption === 'rc4' ? `${id} (rc4)` : id,
				torrentPath,
				clients,
			});
		}

		const outcomes = await measureRuns(variants, {
			runs,
			dir,
			expected,
			startup: scenario.startup === true,
		});
		const results = variants.map((variant) =>
			resultOf(id, scenario, runs, variant, outcomes.get(variant.encryption) ?? new Map()),
		);
		const plaintext = results.find((result) => result.encryption === 'plaintext');
		for (const result of results) {
			if (plaintext && result.encryption === 'rc4') {
				result.versusPlaintext = versusPlaintext(result.clients, plaintext.clients);
			}
		}

		return results;
	} finally {
		await resources.close();
	}
}

const ratioCell = (ratio: {wall: number; cpu: number} | undefined) =>
	ratio ? `${ratio.wall.toFixed(2)}×, ${ratio.cpu.toFixed(2)}×` : '';

/** A row's notes: the share of a link's ceiling, the start-up time, failed runs. */
function notesOf(result: ScenarioResult, client: string, measure: Summary | undefined): string {
	const failures = result.failures[client] ?? [];
	return [
		measure === undefined || result.ceilingMegabytesPerSecond === undefined
			? ''
			: `${((100 * measure.megabytesPerSecond) / result.ceilingMegabytesPerSecond).toFixed(0)}% of the seeders' ${result.ceilingMegabytesPerSecond} MB/s`,
		measure?.startupSeconds === undefined
			? ''
			: `first data on disk after ${measure.startupSeconds.toFixed(2)} s`,
		failures.length === 0
			? ''
			: `FAILED ${failures.length} of ${result.runs} runs: ${[...new Set(failures)].join('; ')}`,
	]
		.filter(Boolean)
		.join('; ');
}

function table(results: ScenarioResult[]): string {
	// The column for encryption's cost only when there are encrypted rows: the plaintext table stays as it was.
	const encrypted = results.some((result) => result.encryption === 'rc4');
	const columns = [
		'scenario',
		'client',
		'wall s',
		'MB/s',
		'CPU s',
		'CPU s/GiB',
		'peak RSS MiB',
		'torrent-rx ÷ it (wall, CPU)',
		...(encrypted ? ['÷ its plaintext run (wall, CPU)'] : []),
		'notes',
	];
	const lines = [`| ${columns.join(' | ')} |`, `| ${columns.map(() => '---').join(' | ')} |`];
	for (const result of results) {
		// In `--clients` order, whether a client's runs succeeded or failed.
		const listed = clients.filter((client) => client in result.clients || client in result.failures);
		for (const client of listed) {
			const measure = result.clients[client];
			const figures = measure
				? [
						measure.wallSeconds.toFixed(2),
						measure.megabytesPerSecond.toFixed(0),
						measure.cpuSeconds.toFixed(2),
						measure.cpuSecondsPerGiB.toFixed(2),
						measure.peakRssMiB.toFixed(0),
					]
				: ['–', '–', '–', '–', '–'];
			const cells = [
				result.label,
				client,
				...figures,
				ratioCell(result.ratios[client]),
				...(encrypted ? [ratioCell(result.versusPlaintext?.[client])] : []),
				notesOf(result, client, measure),
			];
			lines.push(`| ${cells.join(' | ')} |`);
		}
	}

	return lines.join('\n');
}

/** Scale: torrent-rx's peak memory on (e) against (a), when both ran in plaintext. */
function scaleNote(results: ScenarioResult[]): string {
	const memoryOf = (id: string) =>
		results.find((result) => result.id === id && result.encryption === 'plaintext')?.clients['torrent-rx']
			?.peakRssMiB;
	const [small, large] = [memoryOf('a'), memoryOf('e')];
	return small && large ? `\ntorrent-rx peak RSS, (e) ÷ (a): ${(large / small).toFixed(2)}×\n` : '';
}

/**
 * Issue 16's targets, for each encrypted variant: torrent-rx within 1.3× of its own plaintext wall
 * time, and still ahead of aria2c's encrypted download.
 */
function encryptionNote(results: ScenarioResult[]): string {
	const lines = results.flatMap((result) => {
		if (result.encryption !== 'rc4') {
			return [];
		}

		if (!result.clients['torrent-rx']) {
			return result.failures['torrent-rx'] ? [`${result.label}: torrent-rx has no successful run`] : [];
		}

		const plaintext = result.versusPlaintext?.['torrent-rx']?.wall;
		const aria2c = result.ratios.aria2c?.wall;
		const parts = [
			plaintext === undefined
				? 'no plaintext run to compare with'
				: `${plaintext.toFixed(2)}× its plaintext wall time (target ≤ 1.30×: ${plaintext <= 1.3 ? 'met' : 'missed'})`,
			aria2c === undefined
				? 'no aria2c run to compare with'
				: `${aria2c.toFixed(2)}× aria2c's encrypted wall time (target < 1×: ${aria2c < 1 ? 'met' : 'missed'})`,
		];
		return [`${result.label}: torrent-rx ${parts.join(', ')}`];
	});
	return results.some((result) => result.encryption === 'rc4')
		? `\nEncrypted rows: the seeders and all downloaders require MSE/PE with RC4.\n${lines.map((line) => `${line}\n`).join('')}`
		: '';
}

/** The web-seed scenarios chosen, with the table printed: torrent-rx, aria2c and curl against nginx. */
async function runWebSeedScenarios(ids: readonly string[], runs: number): Promise<WebSeedResult[]> {
	if (ids.length === 0) {
		return [];
	}

	const resources = scope();
	try {
		const results: WebSeedResult[] = [];
		for (const id of ids) {
			results.push(await runWebSeedScenario(id, runs, resources));
		}

		process.stdout.write(
			`\nWeb seeds (BEP 19), from nginx on 127.0.0.1; medians of ${runs} runs\n\n${webSeedTable(results)}\n`,
		);
		return results;
	} finally {
		await resources.close();
	}
}

const {values} = parseArgs({
	options: {
		scenarios: {type: 'string', default: 'a,b,c,d,e'},
		runs: {type: 'string', default: '3'},
		json: {type: 'string', default: 'bench-results.json'},
		clients: {type: 'string'},
		baseline: {type: 'string'},
		encryption: {type: 'string', default: 'plaintext'},
	},
});
const baselineRoot = values.baseline === undefined ? undefined : path.resolve(values.baseline);
const chosen = (values.scenarios ?? '').split(',').filter(Boolean);
// `web-single` and `web-multi`: the web-seed scenarios (issue 18), their own clients and table.
const webChosen = chosen.filter((id) => id.startsWith('web-')).map((id) => id.slice('web-'.length));
const unknown = chosen.filter(
	(id) => !(id in scenarios) && !(id.startsWith('web-') && id.slice(4) in webSeedScenarios),
);
const runs = Number(values.runs);
const clients = (
	values.clients ?? `torrent-rx,aria2c,libtorrent${baselineRoot === undefined ? '' : ',baseline'}`
)
	.split(',')
	.filter(Boolean) as Client[];
const unknownClients = clients.filter((client) => !knownClients.includes(client));
const encryptions = encryptionChoices[values.encryption ?? 'plaintext'];
if (
	unknown.length > 0 ||
	unknownClients.length > 0 ||
	!(Number.isInteger(runs) && runs > 0) ||
	encryptions === undefined
) {
	process.stderr.write(
		`bench: scenarios are ${Object.keys(scenarios).join(', ')}; clients ${knownClients.join(', ')}; --runs a whole number; --encryption ${Object.keys(encryptionChoices).join(', ')}\n`,
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
	for (const id of chosen.filter((each) => each in scenarios)) {
		results.push(
			...(await runScenario(id, scenarios[id] as Scenario, {runs, clients, encryptions}, workDir)),
		);
	}

	const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, Node ${process.version}`;
	process.stdout.write(
		`\n${machine}; medians of ${runs} runs\n\n${table(results)}\n${scaleNote(results)}${encryptionNote(results)}`,
	);
	const webResults = await runWebSeedScenarios(webChosen, runs);
	const jsonPath = values.json ?? 'bench-results.json';
	await mkdir(path.dirname(path.resolve(jsonPath)), {recursive: true});
	await writeFile(
		jsonPath,
		`${JSON.stringify({machine, encryption: values.encryption, results, webSeeds: webResults}, null, '\t')}\n`,
	);
	const failed = results.flatMap((result) =>
		Object.entries(result.failures).map(([client, list]) => `${result.label} ${client} (${list.length})`),
	);
	if (failed.length > 0) {
		// The table and JSON are written either way; the exit status is for CI.
		process.stderr.write(`bench: failed runs: ${failed.join(', ')}\n`);
		process.exitCode = 1;
	}
} finally {
	await rm(workDir, {recursive: true, force: true});
}
