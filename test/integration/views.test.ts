/**
 * What a run shows, end to end with real peers: the Prometheus metrics scraped while a real
 * loopback download goes on, the Ink table's final frame for a real download and for the replay
 * of its history log, and replays run where there is no network at all (a fresh network
 * namespace made with `unshare -n`). Real opentracker, real libtorrent seeders, all on 127.0.0.1.
 */
import {type ChildProcess, spawn} from 'node:child_process';
import {readFile, writeFile} from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import process from 'node:process';
import test, {type ExecutionContext} from 'ava';
import {encodeBencode} from '../../source/codec/bencode.js';
import type {TimedEvent} from '../../source/events/events.js';
import {peerColumns} from '../../source/ui/snapshot.js';
import {parsePrometheusText} from '../helpers/prometheus-text.js';
import {
	announceSeeder,
	createTorrent,
	freePort,
	killProcess,
	listPayloadFiles,
	makePayload,
	type Payload,
	type RunResult,
	repoRoot,
	runTorrentRx,
	spawnTorrentRx,
	startLibtorrentSeeder,
	startOpentracker,
	startSwarm,
	startThrottledProxy,
	tempDir,
} from '../helpers/swarm-fixture.js';

const kib = 1024;
const mib = 1024 * kib;

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function describeRun(result: RunResult): string {
	return `exit ${result.code ?? result.signal}${result.timedOut ? ' (timed out)' : ''}\nstderr:\n${result.stderr.slice(-4000)}\nstdout (end):\n${result.stdout.slice(-2000)}`;
}

function totalLength(payload: Payload): number {
	return payload.files.reduce((sum, file) => sum + file.length, 0);
}

/** torrent-rx wrote exactly the payload's files into `dir`, each byte-identical to the seeder's. */
async function assertSameFiles(t: ExecutionContext, dir: string, payload: Payload) {
	t.deepEqual(
		await listPayloadFiles(dir),
		payload.files.map((file) => file.relativePath).sort(),
		'torrent-rx wrote exactly the payload files',
	);
	for (const file of payload.files) {
		const written = await readFile(path.join(dir, file.relativePath));
		t.is(written.length, file.length, `${file.relativePath} has the right size`);
		// Not t.deepEqual: a diff of megabytes helps nobody.
		t.true(written.equals(file.data), `${file.relativePath} is byte-identical to the seeder's`);
	}
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: the escapes are what Ink moves the cursor and erases lines with.
const ansiEscape = /\u001B\[[\d;?]*[A-Za-z]/g;

/**
 * The last frame the Ink view drew: the text (escapes removed) from the last line that starts
 * with the torrent's name, which is the first line of every frame. Ink redraws a frame by erasing
 * the previous one, so its earlier frames stay in the piped output before it.
 */
function finalFrame(stdout: string, name: string): string[] {
	const lines = stdout.replace(ansiEscape, '').split('\n');
	const start = lines.findLastIndex((line) => line.startsWith(`${name} `));
	if (start < 0) {
		return [];
	}

	const frame = lines.slice(start);
	while (frame.at(-1)?.trim() === '') {
		frame.pop();
	}

	return frame;
}

type PeerTableRow = Record<(typeof peerColumns)[number], string>;

/**
 * The peer table of an Ink frame, cut into cells at the columns of its header line (every row is
 * laid out on the same columns); undefined when the frame has no table header.
 */
function peerTable(frame: readonly string[]): PeerTableRow[] | undefined {
	const headerIndex = frame.findIndex((line) =>
		/^Peer\s+Client\s+Enc\s+(From\s+)?Status\s+(Piece\s+)?Downloaded\s+Down rate\s+Up rate\s*$/.test(line),
	);
	const header = frame[headerIndex];
	if (header === undefined) {
		return undefined;
	}

	// A narrow terminal leaves out Piece and From: cut at the columns the header has.
	const shown = peerColumns.filter((column) => new RegExp(`(^| )${column}( |$)`).test(header));
	const starts = shown.map((column) => header.indexOf(column));
	const rows: PeerTableRow[] = [];
	for (const line of frame.slice(headerIndex + 1)) {
		if (!/^\S+:\d+ /.test(line)) {
			// `no peers yet`, `+N more` or the key help: the table is over.
			break;
		}

		const cells = starts.map((start, index) => line.slice(start, starts[index + 1]).trim());
		rows.push(
			Object.fromEntries(
				peerColumns.map((column) => [column, cells[shown.indexOf(column)] ?? '']),
			) as PeerTableRow,
		);
	}

	return rows;
}

/** Checks that `frame` is a whole final frame of a completed download of `pieceCount` pieces from one libtorrent seeder. */
function assertCompletedFrame(
	t: ExecutionContext,
	frame: readonly string[],
	{name, pieceCount, who}: {name: string; pieceCount: number; who: string},
): PeerTableRow | undefined {
	const shown = `${who}, final frame:\n${frame.join('\n')}`;
	t.regex(frame[0] ?? '', new RegExp(`^${name.replace('.', '\\.')}\\s+completed$`), shown);
	t.regex(frame[1] ?? '', new RegExp(` 100\\.0% ${pieceCount} of ${pieceCount} pieces$`), shown);
	t.is(frame.at(-1), 'q to quit, f for files', `${who}: the frame is whole\n${shown}`);
	const rows = peerTable(frame);
	t.truthy(rows, `${who}: the frame has the peer table header\n${shown}`);
	const seeder = rows?.find(
		(row) => /^127\.0\.0\.1:\d+$/.test(row.Peer) && row.Client === 'libtorrent 2.0.8',
	);
	t.truthy(seeder, `${who}: a row for the libtorrent seeder\n${shown}`);
	// The only peer: every piece came from it.
	t.is(seeder?.Downloaded, String(pieceCount), shown);
	return seeder;
}

/** The history log as the events it holds, one JSON object a line. */
async function readHistory(file: string): Promise<TimedEvent[]> {
	const text = await readFile(file, 'utf8');
	return text
		.split('\n')
		.filter((line) => line !== '')
		.map((line) => JSON.parse(line) as TimedEvent);
}

async function scrape(port: number): Promise<Map<string, number> | undefined> {
	try {
		const response = await fetch(`http://127.0.0.1:${port}/metrics`, {signal: AbortSignal.timeout(2000)});
		if (!response.ok) {
			return undefined;
		}

		return parsePrometheusText(await response.text());
	} catch {
		// Not listening yet (or gone).
		return undefined;
	}
}

test('metrics scraped during a throttled loopback download from two libtorrent seeders add up to the torrent', async (t) => {
	t.timeout(60_000);
	const pieceLength = 32 * kib;
	const seedDir = await tempDir(t);
	const outputDir = await tempDir(t);
	// A short last piece, so that whole-piece sums are not just multiples of the piece length.
	const payload = await makePayload(seedDir, {name: 'metered.bin', length: 4 * mib + 123});
	const size = totalLength(payload);
	const pieceCount = Math.ceil(size / pieceLength);
	const lastPiece = size - (pieceCount - 1) * pieceLength;

	// Two libtorrent seeders, found through the torrent's own tracker…
	const {torrentPath, seeder} = await startSwarm(t, payload, pieceLength);
	const seeders = [seeder, await startLibtorrentSeeder(t, torrentPath, seedDir)];
	// …are reached by torrent-rx only through proxies passing 1 MiB/s each: a copy of the torrent
	// (same info dictionary, so the same info hash) names a tracker that lists only the proxies.
	// At most 2 MiB/s for 4 MiB: the download lasts two seconds at least, long enough to scrape it.
	const slowTrackerPort = await freePort();
	const slow = await createTorrent(
		payload.path,
		`http://127.0.0.1:${slowTrackerPort}/announce`,
		pieceLength,
		{torrentPath: path.join(seedDir, 'slow.torrent')},
	);
	const slowTracker = await startOpentracker(t, [slow.infoHash], {port: slowTrackerPort});
	for (const {port} of seeders) {
		const proxy = await startThrottledProxy(t, port, mib);
		await announceSeeder(slowTracker.url, slow.infoHash, proxy.port);
	}

	const metricsPort = await freePort();
	const run = spawnTorrentRx(
		t,
		[
			slow.torrentPath,
			'-o',
			outputDir,
			'--port',
			String(await freePort()),
			'--seed',
			'--metrics-port',
			String(metricsPort),
			'--no-history',
			'--mode',
			'minimal',
		],
		{timeoutMs: 45_000},
	);
	let exited = false;
	void run.result.then(() => {
		exited = true;
	});

	const scrapes: Array<Map<string, number>> = [];
	const deadline = Date.now() + 35_000;
	let last: Map<string, number> | undefined;
	while (!exited && Date.now() < deadline && last?.get('torrent_rx_completion_ratio') !== 1) {
		await sleep(100);
		const samples = await scrape(metricsPort);
		if (samples) {
			scrapes.push(samples);
			last = samples;
		}
	}

	t.false(exited, `torrent-rx --seed still runs after completing\n${run.stderr()}`);
	t.truthy(last, `a scrape of 127.0.0.1:${metricsPort}/metrics answered; stderr:\n${run.stderr()}`);
	t.is(last?.get('torrent_rx_completion_ratio'), 1, `completed; stderr:\n${run.stderr()}`);

	// While in progress: whole verified pieces only, never more than the torrent, completion to match.
	const inProgress = scrapes.filter((samples) => {
		const ratio = samples.get('torrent_rx_completion_ratio') ?? 0;
		return ratio > 0 && ratio < 1;
	});
	t.true(
		inProgress.length > 0,
		`at least one scrape in the middle of the download (of ${scrapes.length}: ${scrapes.map((samples) => samples.get('torrent_rx_completion_ratio')).join(', ')})`,
	);
	let previous = 0;
	for (const samples of inProgress) {
		const downloaded = samples.get('torrent_rx_downloaded_bytes_total{source="peer"}') ?? Number.NaN;
		const verified = samples.get('torrent_rx_pieces_verified_total') ?? Number.NaN;
		const ratio = samples.get('torrent_rx_completion_ratio') ?? Number.NaN;
		const shown = `downloaded ${downloaded}, verified ${verified}, completion ${ratio}`;
		t.true(verified > 0 && verified < pieceCount, shown);
		t.true(
			downloaded === verified * pieceLength || downloaded === (verified - 1) * pieceLength + lastPiece,
			`the bytes are those of ${verified} whole pieces: ${shown}`,
		);
		t.true(downloaded < size, shown);
		t.true(Math.abs(ratio - downloaded / size) < 1e-9, `completion is the verified share: ${shown}`);
		t.is(samples.get('torrent_rx_pieces_failed_total'), 0, shown);
		t.true(downloaded >= previous, `the counter never goes down: ${previous} then ${downloaded}`);
		previous = downloaded;
	}

	t.log(`${inProgress.length} of ${scrapes.length} scrapes taken while downloading`);

	// libtorrent drops a connection once both ends are seeds, so peers are counted while downloading.
	const connected = inProgress.map((samples) => samples.get('torrent_rx_peers{state="connected"}') ?? 0);
	t.true(
		connected.some((count) => count >= 1),
		`a peer was connected during the download: ${connected.join(', ')}`,
	);
	t.true(
		connected.every((count) => count >= 0 && count <= seeders.length),
		`never more connected peers than proxies (${seeders.length}): ${connected.join(', ')}`,
	);

	// Complete: every byte and piece counted once, none failed.
	t.is(last?.get('torrent_rx_downloaded_bytes_total{source="peer"}'), size);
	t.is(last?.get('torrent_rx_pieces_verified_total'), pieceCount);
	t.is(last?.get('torrent_rx_pieces_failed_total'), 0);
	t.true((last?.get('torrent_rx_announces_total{result="answered"}') ?? 0) >= 1, 'the tracker answered');
	const peersNow = [
		last?.get('torrent_rx_peers{state="connected"}') ?? 0,
		last?.get('torrent_rx_peers{state="connecting"}') ?? 0,
	];
	t.true(
		peersNow.every((count) => Number.isInteger(count) && count >= 0),
		`peer gauges are never negative: ${peersNow.join(', ')}`,
	);
	t.is(last?.get('torrent_rx_piece_download_seconds_count'), pieceCount, 'every piece timed');
	// prom-client's default metrics, with the same prefix.
	t.true((last?.get('torrent_rx_process_resident_memory_bytes') ?? 0) > 0, 'process metrics are served');
	t.true(last?.has('torrent_rx_process_cpu_user_seconds_total'));
	await assertSameFiles(t, outputDir, payload);

	run.child.kill('SIGINT');
	const result = await run.result;
	// README: `0` the download completed and verified, "also when seeding after it is ended by Ctrl-C".
	t.is(result.code, 0, describeRun(result));
	t.regex(result.stderr, /torrent-rx: stopping/);
	t.false(result.stderr.includes('    at '), 'no stack trace');
	// Completed, then seeding until the Ctrl-C: the last status line is the seeding one.
	t.regex(result.stdout, new RegExp(`(?:^|\\n)Seeding ${payload.name.replace('.', '\\.')}: uploaded .*\\n$`));
});

/**
 * Downloads a small payload from one libtorrent seeder found through opentracker, in `mode`,
 * recording the run's history into a log outside the download folder.
 */
async function recordedDownload(
	t: ExecutionContext,
	{name, length, pieceLength, mode}: {name: string; length: number; pieceLength: number; mode: string},
) {
	const seedDir = await tempDir(t);
	const outputDir = await tempDir(t);
	const logDir = await tempDir(t);
	const log = path.join(logDir, 'history.log');
	const payload = await makePayload(seedDir, {name, length});
	const {torrentPath} = await startSwarm(t, payload, pieceLength);
	const result = await runTorrentRx(
		t,
		[
			torrentPath,
			'-o',
			outputDir,
			'--port',
			String(await freePort()),
			'--mode',
			mode,
			'--history',
			log,
			'--no-metrics',
		],
		{timeoutMs: 30_000},
	);
	t.false(result.timedOut, describeRun(result));
	t.is(result.code, 0, describeRun(result));
	await assertSameFiles(t, outputDir, payload);
	const events = await readHistory(log);
	const pieceCount = Math.ceil(length / pieceLength);
	t.like(events[0], {type: 'started', name, pieceCount, totalLength: length}, 'the log begins with the run');
	t.true(
		events.some((event) => event.type === 'completed'),
		'the log records the completion',
	);
	return {result, log, pieceCount, events};
}

test('--mode ink shows the completed download with the libtorrent peer, and its replay ends on the same frame', async (t) => {
	t.timeout(60_000);
	const name = 'inked.bin';
	const {result, log, pieceCount} = await recordedDownload(t, {
		name,
		length: 2 * mib + 123,
		pieceLength: 32 * kib,
		mode: 'ink',
	});
	const live = finalFrame(result.stdout, name);
	const liveSeeder = assertCompletedFrame(t, live, {name, pieceCount, who: 'the download'});

	const replay = await runTorrentRx(
		t,
		['--replay', log, '--mode', 'ink', '--replay-speed', '20', '--no-metrics'],
		{timeoutMs: 30_000},
	);
	t.false(replay.timedOut, describeRun(replay));
	t.is(replay.code, 0, describeRun(replay));
	const replayed = finalFrame(replay.stdout, name);
	const replayedSeeder = assertCompletedFrame(t, replayed, {name, pieceCount, who: 'the replay'});
	t.is(replayedSeeder?.Peer, liveSeeder?.Peer, 'the same peer address');
	t.is(replayedSeeder?.Client, liveSeeder?.Client, 'the same client');
	// Rates and durations come from the recorded times: the replay rebuilds the very same state.
	t.deepEqual(replayed, live, 'the replay ends on the frame the download ended on');
});

type NamespacedRun = {child: ChildProcess; result: Promise<RunResult>};

/**
 * Runs `command` in a fresh network namespace (`unshare -n`: only a loopback that is down, so
 * no connection can be made, not even to 127.0.0.1), killed after `timeoutMs` or when the test
 * ends. `unshare` without `--fork` execs the command, so killing it kills the command.
 */
function runWithoutNetwork(
	t: ExecutionContext,
	command: string[],
	{timeoutMs}: {timeoutMs: number},
): NamespacedRun {
	const child = spawn('unshare', ['-n', '--', ...command], {
		cwd: repoRoot,
		env: {...process.env, NO_COLOR: '1', FORCE_COLOR: '0'},
		stdio: ['ignore', 'pipe', 'pipe'],
	});
	t.teardown(() => killProcess(child));
	let stdout = '';
	let stderr = '';
	child.stdout.on('data', (chunk: Buffer) => {
		stdout += chunk.toString();
	});
	child.stderr.on('data', (chunk: Buffer) => {
		stderr += chunk.toString();
	});
	let timedOut = false;
	const timer = setTimeout(() => {
		timedOut = true;
		child.kill('SIGKILL');
	}, timeoutMs);
	const result = new Promise<RunResult>((resolve, reject) => {
		child.once('error', (error) => {
			clearTimeout(timer);
			reject(new Error(`cannot run unshare: ${error.message}`));
		});
		child.once('close', (code, signal) => {
			clearTimeout(timer);
			resolve({code, signal, stdout, stderr, timedOut});
		});
	});
	return {child, result};
}

const cli = [process.execPath, '--import', 'tsx', path.join(repoRoot, 'source', 'cli.ts')];

test('a recorded run replays in a network namespace where no connection can be made', async (t) => {
	t.timeout(60_000);
	// The namespace must really be cut off: a server listening here is out of its reach.
	const server = net.createServer((socket) => socket.end('reached'));
	await new Promise<void>((resolve) => {
		server.listen(0, '127.0.0.1', () => resolve());
	});
	t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
	const address = server.address();
	const hostPort = typeof address === 'object' && address ? address.port : 0;
	const probe = `const s = require('node:net').connect(${hostPort}, '127.0.0.1');
s.on('data', (d) => { console.log(String(d)); s.destroy(); });
s.on('error', (e) => console.log(e.code));`;
	const probed = await runWithoutNetwork(t, [process.execPath, '-e', probe], {
		timeoutMs: 15_000,
	}).result.catch((error: unknown) => ({
		code: null,
		signal: null,
		stdout: '',
		stderr: String(error),
		timedOut: false,
	}));
	if (probed.code !== 0) {
		t.fail(
			`\`unshare -n\` cannot make a network namespace (it needs root or CAP_SYS_ADMIN): ${describeRun(probed)}`,
		);
		return;
	}

	t.regex(probed.stdout.trim(), /^E[A-Z]+$/, 'inside the namespace, 127.0.0.1 of the host is unreachable');
	t.not(probed.stdout.trim(), 'reached');

	const name = 'offline.bin';
	const {result, log, pieceCount, events} = await recordedDownload(t, {
		name,
		length: mib + 7,
		pieceLength: 16 * kib,
		mode: 'minimal',
	});
	const finalLine = `Downloaded ${name}: ${pieceCount} pieces of ${pieceCount} completed\n`;
	t.true(result.stdout.endsWith(finalLine), describeRun(result));
	const peer = events.find((event) => event.type === 'peer-connected');
	t.truthy(peer, 'the recorded run connected to the seeder');

	const [minimal, ink] = await Promise.all([
		runWithoutNetwork(
			t,
			[...cli, '--replay', log, '--no-metrics', '--mode', 'minimal', '--replay-speed', '5'],
			{timeoutMs: 30_000},
		).result,
		// Metrics on, on the default port 5000: the namespace has ports of its own, and binding
		// 127.0.0.1 works there even with its loopback down, so the metrics server starts quietly.
		runWithoutNetwork(t, [...cli, '--replay', log, '--mode', 'ink', '--replay-speed', '20'], {
			timeoutMs: 30_000,
		}).result,
	]);

	t.is(minimal.code, 0, `minimal: ${describeRun(minimal)}`);
	t.true(minimal.stdout.endsWith(finalLine), `minimal: ${describeRun(minimal)}`);
	t.is(minimal.stderr, '', 'minimal: nothing on stderr');

	t.is(ink.code, 0, `ink with metrics: ${describeRun(ink)}`);
	const frame = finalFrame(ink.stdout, name);
	const seeder = assertCompletedFrame(t, frame, {name, pieceCount, who: 'the ink replay'});
	t.is(seeder?.Peer, peer?.type === 'peer-connected' ? peer.peer : undefined, 'the recorded peer');
	t.is(ink.stderr, '', 'ink with metrics: no warning, the metrics server started in the namespace');
});

test('a replay in a pipe of a run that completes and seeds within five seconds prints each phase line at once', async (t) => {
	t.timeout(30_000);
	const dir = await tempDir(t);
	const log = path.join(dir, 'history.log');
	const recorded: TimedEvent[] = [
		{
			type: 'started',
			name: 'quick.iso',
			infoHash: 'ef'.repeat(20),
			pieceCount: 2,
			pieceLength: 1000,
			totalLength: 2000,
			at: 0,
		},
		{type: 'checked', pieces: 1, total: 2, bytes: 1000, fromResumeFile: true, at: 10},
		{type: 'piece-verified', peer: '127.0.0.1:1', index: 1, bytes: 1000, at: 300},
		{type: 'completed', bytes: 2000, at: 300},
		{type: 'seeding', at: 300},
		{type: 'uploaded', peer: '127.0.0.1:1', bytes: 700, at: 1300},
	];
	await writeFile(log, `${recorded.map((event) => JSON.stringify(event)).join('\n')}\n`);
	const result = await runTorrentRx(t, ['--replay', log, '--mode', 'minimal', '--no-metrics'], {
		timeoutMs: 20_000,
	});
	t.is(result.code, 0, result.stderr);
	const lines = result.stdout.split('\n');
	t.deepEqual(lines.slice(0, 3), [
		'Downloading quick.iso: 1 pieces of 2 completed (0 peers) 0 B/s',
		'Downloaded quick.iso: 2 pieces of 2 completed',
		'Seeding quick.iso: uploaded 0 B (0 peers) 0 B/s',
	]);
	// The run's end: the final line, with the upload the last second brought.
	t.regex(lines.slice(3).join('\n'), /^Seeding quick\.iso: uploaded 700 B \(0 peers\) \d+ B\/s\n$/);
});

// biome-ignore lint/suspicious/noControlCharactersInRegex: these are what the tests look for.
const unsafeOnTerminal = /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/u;

test('an error naming a path from the torrent prints it without escapes or bidi overrides', async (t) => {
	t.timeout(30_000);
	const dir = await tempDir(t);
	const torrent = path.join(dir, 'hostile.torrent');
	await writeFile(
		torrent,
		encodeBencode({
			announce: 'http://127.0.0.1:1/announce',
			info: {
				name: 'folder',
				'piece length': 16_384,
				pieces: Buffer.alloc(20),
				files: [{length: 1, path: ['a/\u009B2J\u001B]0;pwned\u0007\u202Egpj.exe']}],
			},
		}),
	);
	// The torrent's folder is taken by a file: making the (sanitised, still hostile) name fails, and the error names it.
	await writeFile(path.join(dir, 'folder'), 'in the way');
	const result = await runTorrentRx(t, [torrent, '-o', dir, '--no-metrics'], {timeoutMs: 20_000});
	t.is(result.code, 1, result.stderr);
	t.regex(result.stderr, /^torrent-rx: cannot create .*folder.*gpj\.exe.*\n$/);
	t.notRegex(result.stderr, unsafeOnTerminal);
});

test('--debug prints each event as a JSON line with no raw C1 control or bidi override', async (t) => {
	t.timeout(30_000);
	const dir = await tempDir(t);
	const log = path.join(dir, 'history.log');
	const name = 'x\u009B2J\u202Egpj.exe';
	const recorded: TimedEvent[] = [
		{
			type: 'started',
			name,
			infoHash: 'ef'.repeat(20),
			pieceCount: 1,
			pieceLength: 1000,
			totalLength: 1000,
			at: 0,
		},
		{
			type: 'announce-failed',
			tracker: 'http://t.example/announce',
			event: 'started',
			reason: 'no\u0085\u2066',
			at: 1,
		},
		{type: 'completed', bytes: 1000, at: 2},
	];
	await writeFile(log, `${recorded.map((event) => JSON.stringify(event)).join('\n')}\n`);
	const result = await runTorrentRx(t, ['--replay', log, '--mode', 'minimal', '--no-metrics', '--debug'], {
		timeoutMs: 20_000,
	});
	t.is(result.code, 0, result.stderr);
	t.notRegex(result.stderr, unsafeOnTerminal);
	t.notRegex(result.stdout, unsafeOnTerminal);
	const events = result.stderr
		.trimEnd()
		.split('\n')
		.map((line) => JSON.parse(line) as {name?: string});
	t.is(events[0]?.name, name);
});
