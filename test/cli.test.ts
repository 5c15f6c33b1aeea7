/**
 * The CLI as a user meets it: bad input is one line on stderr starting with `torrent-rx:` and a
 * non-zero exit code, never a stack trace.
 */
import {readdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {encodeBencode} from '../source/codec/bencode.js';
import {freePort, runTorrentRx, tempDir} from './helpers/swarm-fixture.js';

const timeoutMs = 30_000;

/** A well-formed single-file torrent (100 bytes in one piece), with `info` fields overridden. */
function torrentBytes(info: Record<string, unknown> = {}): Buffer {
	return encodeBencode({
		// Port 1 on loopback: nothing answers, and these runs must never get that far.
		announce: 'http://127.0.0.1:1/announce',
		info: {name: 'file.bin', 'piece length': 16_384, length: 100, pieces: Buffer.alloc(20), ...info},
	});
}

async function runOn(t: ExecutionContext, torrent: Buffer | undefined, extraArgs: string[] = []) {
	t.timeout(timeoutMs + 5000);
	const dir = await tempDir(t);
	const outputDir = path.join(dir, 'out');
	const torrentPath = path.join(dir, 'input.torrent');
	if (torrent) {
		await writeFile(torrentPath, torrent);
	}

	const run = await runTorrentRx(t, [torrentPath, '--output', outputDir, ...extraArgs], {timeoutMs});
	return {...run, outputDir};
}

/** Exactly one line on stderr, `torrent-rx: …`, the input-error exit code, and no stack trace. */
function assertOneLineError(t: ExecutionContext, run: Awaited<ReturnType<typeof runOn>>, message: RegExp) {
	const context = `exit ${run.code ?? run.signal}; stderr:\n${run.stderr}`;
	t.false(run.timedOut, context);
	t.is(run.code, 2, context);
	t.true(run.stderr.endsWith('\n'), context);
	const lines = run.stderr.slice(0, -1).split('\n');
	t.is(lines.length, 1, context);
	t.true(lines[0]?.startsWith('torrent-rx: '), context);
	t.regex(run.stderr, message);
	t.false(run.stderr.includes('    at '), 'no stack trace');
}

for (const [what, torrent, message] of [
	['a truncated torrent file', torrentBytes().subarray(0, -10), /malformed bencode.*truncated/],
	[
		'a torrent whose pieces are not a multiple of 20 bytes',
		torrentBytes({pieces: Buffer.alloc(21)}),
		/info\.pieces is 21 bytes, not a multiple of 20/,
	],
	['a file that is not bencode', Buffer.from('this is not a torrent\n'), /malformed bencode/],
] as const) {
	test(`rejects ${what} in one line`, async (t) => {
		const run = await runOn(t, torrent);
		assertOneLineError(t, run, message);
		// Nothing may be created (least of all outside the output folder) for a torrent we refused.
		t.deepEqual(await readdir(path.dirname(run.outputDir)), ['input.torrent']);
	});
}

test('rejects a missing torrent file in one line', async (t) => {
	const run = await runOn(t, undefined);
	assertOneLineError(t, run, /cannot read .*input\.torrent/);
});

for (const [flags, message] of [
	[['--select', '2'], /--select 2: the torrent has one file/],
	[['--select', '*.mkv'], /--select \*\.mkv matches none of the torrent's files/],
	[['--exclude', '1'], /the selection leaves no file to download/],
] as const) {
	test(`rejects ${flags.join(' ')} in one line, before anything is made`, async (t) => {
		const run = await runOn(t, torrentBytes(), [...flags]);
		assertOneLineError(t, run, message);
		t.deepEqual(await readdir(path.dirname(run.outputDir)), ['input.torrent']);
	});
}

test('rejects --max-peers 0 in one line', async (t) => {
	const run = await runOn(t, torrentBytes(), ['--max-peers', '0']);
	assertOneLineError(t, run, /--max-peers must be a whole number of at least 1/);
});

test('rejects an --encryption (or --mode) it does not know in one line, naming the choices', async (t) => {
	const run = await runOn(t, torrentBytes(), ['--encryption', 'maybe']);
	assertOneLineError(t, run, /--encryption.*maybe.*prefer.*require.*allow.*off/);
	const mode = await runOn(t, torrentBytes(), ['--mode', 'fancy']);
	assertOneLineError(t, mode, /--mode.*fancy/);
});

test('rejects a run with no torrent file in one line', async (t) => {
	t.timeout(timeoutMs + 5000);
	const run = await runTorrentRx(t, [], {timeoutMs});
	assertOneLineError(t, {...run, outputDir: ''}, /give a \.torrent file/);
});

test('rejects an unknown flag without a stack trace', async (t) => {
	const run = await runOn(t, torrentBytes(), ['--frobnicate']);
	t.false(run.timedOut, run.stderr);
	t.not(run.code, 0, run.stderr);
	t.not(run.code, null, run.stderr);
	t.regex(run.stderr, /frobnicate/);
	t.false(run.stderr.includes('    at '), 'no stack trace');
});

test('--help lists the flags and exits 0', async (t) => {
	t.timeout(timeoutMs + 5000);
	const run = await runTorrentRx(t, ['--help'], {timeoutMs});
	t.is(run.code, 0, run.stderr);
	for (const flag of ['--output', '-o', '--max-peers', '--port', '--debug', '--help', '--version']) {
		t.true(run.stdout.includes(flag), `--help mentions ${flag}`);
	}
});

test('--version prints 0.1.0', async (t) => {
	t.timeout(timeoutMs + 5000);
	const run = await runTorrentRx(t, ['--version'], {timeoutMs});
	t.is(run.code, 0, run.stderr);
	t.is(run.stdout.trim(), '0.1.0');
});

test('rejects a --metrics-host that is no address in one line', async (t) => {
	const run = await runOn(t, torrentBytes(), ['--metrics-host', 'not a host!']);
	assertOneLineError(t, run, /--metrics-host takes an IP address or a host name/);
});

test('the web view and metrics stay on 127.0.0.1 unless told otherwise, and another address is warned about', async (t) => {
	t.timeout(timeoutMs + 5000);
	const dir = await tempDir(t);
	const log = path.join(dir, 'history.log');
	const events = [
		{
			type: 'started',
			name: 'x.bin',
			infoHash: '00'.repeat(20),
			pieceCount: 1,
			pieceLength: 100,
			totalLength: 100,
			at: 0,
		},
		{type: 'completed', bytes: 100, at: 300},
	];
	await writeFile(log, `${events.map((event) => JSON.stringify(event)).join('\n')}\n`);
	const [webPort, metricsPort] = [await freePort(), await freePort()];
	const replay = (extra: string[]) =>
		runTorrentRx(
			t,
			[
				'--replay',
				log,
				'--mode',
				'web',
				'--web-port',
				String(webPort),
				'--metrics-port',
				String(metricsPort),
				...extra,
			],
			{timeoutMs},
		);
	const quiet = await replay([]);
	t.is(quiet.code, 0, quiet.stderr);
	t.false(quiet.stderr.includes('warning'), quiet.stderr);

	const exposed = await replay(['--web-host', '0.0.0.0', '--metrics-host', '::']);
	t.is(exposed.code, 0, exposed.stderr);
	t.true(
		exposed.stderr.includes(
			`warning: the web view on 0.0.0.0:${webPort} can be reached from other machines, with no password`,
		),
		exposed.stderr,
	);
	t.true(
		exposed.stderr.includes(`warning: the metrics on :::${metricsPort} can be reached from other machines`),
		exposed.stderr,
	);
});
