import net from 'node:net';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {assertSameFiles} from '../helpers/interop.js';
import {
	announceSeeder,
	createTorrent,
	type DebugEvent,
	debugEvents,
	freePort,
	makePayload,
	type Payload,
	type PayloadSpec,
	type RunningTorrentRx,
	runAria2c,
	runLibtorrentDownload,
	runTorrentRx,
	spawnTorrentRx,
	startOpentracker,
	startSwarm,
	startThrottledProxy,
	tempDir,
	trackedTorrent,
	trackerPeers,
	waitForDebugEvent,
} from '../helpers/swarm-fixture.js';

const kib = 1024;
const mib = 1024 * kib;

/** About 6 MiB in five files of odd sizes, so that 128 KiB pieces span files. */
const album: PayloadSpec = {
	name: 'album',
	files: [
		{path: 'cover.jpg', length: 300_001},
		{path: 'disc1/01.flac', length: 2 * mib + 12_345},
		{path: 'disc1/02.flac', length: 1},
		{path: 'disc2/01.flac', length: 3 * mib - 7},
		{path: 'notes.txt', length: 777_777},
	],
};

function totalLength(payload: Payload): number {
	return payload.files.reduce((sum, file) => sum + file.length, 0);
}

function uploadedBytes(events: readonly DebugEvent[]): number {
	return events.reduce((sum, event) => sum + (event.type === 'uploaded' ? Number(event.bytes) : 0), 0);
}

function describeRun(result: {
	code: number | null;
	signal: string | null;
	timedOut: boolean;
	stderr: string;
}) {
	return `exit ${result.code ?? result.signal}${result.timedOut ? ' (timed out)' : ''}\nstderr:\n${result.stderr.slice(-4000)}`;
}

function megabytesPerSecond(bytes: number, ms: number): string {
	return `${(bytes / 1e6 / (ms / 1000)).toFixed(1)} MB/s (${bytes} bytes in ${ms} ms)`;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * How long the seeder's one successful session lasted, handshake to goodbye, in milliseconds: the
 * transfer itself, without the downloader's start-up and its tries at MSE or uTP, which
 * torrent-rx does not speak.
 */
function sessionMs(events: readonly DebugEvent[]): number | undefined {
	const connected = events.find((event) => event.type === 'peer-connected');
	const left = events.find((event) => event.type === 'peer-disconnected' && event.peer === connected?.peer);
	return connected && left ? Number(left.at) - Number(connected.at) : undefined;
}

type TorrentRxSeeder = {
	run: RunningTorrentRx;
	trackerUrl: string;
	port: number;
	payload: Payload;
	torrentPath: string;
	infoHash: string;
};

/**
 * Makes `spec` in a fresh folder with a torrent announcing to a fresh opentracker, and starts
 * torrent-rx on it with the folder as its output, so that it finds every piece already there.
 * Resolves once the check found every piece and the tracker has answered torrent-rx.
 */
async function startTorrentRxSeeder(
	t: ExecutionContext,
	spec: PayloadSpec,
	pieceLength: number,
	{seedFlags = ['--seed'], port}: {seedFlags?: string[]; port?: number} = {},
): Promise<TorrentRxSeeder> {
	const seedDir = await tempDir(t);
	const payload = await makePayload(seedDir, spec);
	const {tracker, torrentPath, infoHash} = await trackedTorrent(t, payload, pieceLength);
	const seedPort = port ?? (await freePort());
	const run = spawnTorrentRx(
		t,
		[torrentPath, '--output', seedDir, ...seedFlags, '--port', String(seedPort), '--debug'],
		{timeoutMs: 40_000},
	);
	await waitForDebugEvent(run, (event) => event.type === 'announce-answered', {timeoutMs: 15_000});
	const events = debugEvents(run.stderr());
	const pieceCount = Math.ceil(totalLength(payload) / pieceLength);
	t.like(
		events.find((event) => event.type === 'checked'),
		{pieces: pieceCount, total: pieceCount},
		'the check found every piece on disk',
	);
	t.true(
		events.some((event) => event.type === 'seeding'),
		'seeding straight away',
	);
	t.false(
		events.some((event) => event.type === 'piece-started'),
		'nothing to download',
	);
	return {run, trackerUrl: tracker.url, port: seedPort, payload, torrentPath, infoHash};
}

/** Waits for the seeder's `uploaded` events (one a second per peer) to add up to `bytes`. */
async function waitForUploaded(seeder: TorrentRxSeeder, bytes: number, timeoutMs: number): Promise<number> {
	try {
		await waitForDebugEvent(seeder.run, (_event, events) => uploadedBytes(events) >= bytes, {timeoutMs});
	} catch {
		// The caller's assertion reports the shortfall.
	}

	return uploadedBytes(debugEvents(seeder.run.stderr()));
}

/**
 * A slow way into a swarm: a copy of the torrent at `torrentPath` (the same info dictionary, so
 * the same info hash) naming a tracker of its own, which lists only a proxy passing
 * `bytesPerSecond` from 127.0.0.1:`upstreamPort`. A peer given this copy reaches the upstream
 * peer only through the proxy.
 */
async function slowRoute(
	t: ExecutionContext,
	payload: Payload,
	pieceLength: number,
	{
		upstreamPort,
		bytesPerSecond,
		torrentPath,
	}: {upstreamPort: number; bytesPerSecond: number; torrentPath: string},
): Promise<{torrentPath: string; infoHash: string}> {
	const trackerPort = await freePort();
	const torrent = await createTorrent(payload.path, `http://127.0.0.1:${trackerPort}/announce`, pieceLength, {
		torrentPath,
	});
	const tracker = await startOpentracker(t, [torrent.infoHash], {port: trackerPort});
	const proxy = await startThrottledProxy(t, upstreamPort, bytesPerSecond);
	await announceSeeder(tracker.url, torrent.infoHash, proxy.port);
	return torrent;
}

/** Stops a seeding torrent-rx with SIGINT and checks that it leaves cleanly. */
async function stopSeeder(t: ExecutionContext, seeder: TorrentRxSeeder) {
	seeder.run.child.kill('SIGINT');
	const result = await seeder.run.result;
	t.false(result.timedOut, describeRun(result));
	// The download was complete: seeding stopped by Ctrl-C is not a failed run.
	t.true(result.code === 0 || result.code === 130, describeRun(result));
	t.false(result.timedOut, describeRun(result));
	t.false(result.stderr.includes('    at '), 'no stack trace');
	// Seeding must not have touched the data.
	await assertSameFiles(t, path.dirname(seeder.payload.path), seeder.payload, 'the seeder (after seeding)', {
		exact: false,
	});
}

test('aria2c downloads a multi-file torrent that torrent-rx seeds', async (t) => {
	t.timeout(45_000);
	const seeder = await startTorrentRxSeeder(t, album, 128 * kib);
	const downloadDir = await tempDir(t);

	const aria2 = await runAria2c(t, seeder.torrentPath, downloadDir, {timeoutMs: 20_000});
	t.false(aria2.timedOut, `aria2c: ${describeRun(aria2)}\nstdout:\n${aria2.stdout}`);
	t.is(aria2.code, 0, `aria2c: ${describeRun(aria2)}\nstdout:\n${aria2.stdout}`);
	await assertSameFiles(t, downloadDir, seeder.payload, 'aria2c');
	await stopSeeder(t, seeder);

	const bytes = totalLength(seeder.payload);
	const events = debugEvents(seeder.run.stderr());
	t.log(`aria2c from torrent-rx, whole aria2c run: ${megabytesPerSecond(bytes, aria2.elapsedMs)}`);
	t.log(`aria2c from torrent-rx, the session: ${megabytesPerSecond(bytes, sessionMs(events) ?? Number.NaN)}`);
});

test('libtorrent requiring encryption (RC4 only) downloads what torrent-rx seeds: MSE/PE accepted', async (t) => {
	t.timeout(45_000);
	const seeder = await startTorrentRxSeeder(t, album, 128 * kib);
	const downloadDir = await tempDir(t);
	const libtorrent = await runLibtorrentDownload(t, seeder.torrentPath, downloadDir, {
		timeoutMs: 25_000,
		encryption: 'forced',
	});
	t.is(libtorrent.code, 0, `libtorrent: ${describeRun(libtorrent)}`);
	t.not(libtorrent.seconds, undefined, `libtorrent printed no "done": ${libtorrent.stdout}`);
	await assertSameFiles(t, downloadDir, seeder.payload, 'libtorrent');
	await stopSeeder(t, seeder);
});

test('libtorrent downloads a multi-file torrent that torrent-rx seeds', async (t) => {
	t.timeout(45_000);
	const seeder = await startTorrentRxSeeder(t, album, 128 * kib);
	const downloadDir = await tempDir(t);

	const libtorrent = await runLibtorrentDownload(t, seeder.torrentPath, downloadDir, {timeoutMs: 25_000});
	t.false(libtorrent.timedOut, `libtorrent: ${describeRun(libtorrent)}`);
	t.is(libtorrent.code, 0, `libtorrent: ${describeRun(libtorrent)}`);
	t.not(libtorrent.seconds, undefined, `libtorrent printed no "done": ${libtorrent.stdout}`);
	await assertSameFiles(t, downloadDir, seeder.payload, 'libtorrent');
	await stopSeeder(t, seeder);

	const bytes = totalLength(seeder.payload);
	const events = debugEvents(seeder.run.stderr());
	t.log(
		`libtorrent from torrent-rx, its own measure: ${megabytesPerSecond(bytes, (libtorrent.seconds ?? 0) * 1000)}`,
	);
	t.log(
		`libtorrent from torrent-rx, the session: ${megabytesPerSecond(bytes, sessionMs(events) ?? Number.NaN)}`,
	);
});

test('torrent-rx downloads from a torrent-rx seeder', async (t) => {
	t.timeout(45_000);
	const seeder = await startTorrentRxSeeder(t, album, 64 * kib);
	const downloadDir = await tempDir(t);

	const leecher = await runTorrentRx(
		t,
		[seeder.torrentPath, '--output', downloadDir, '--port', String(await freePort()), '--debug'],
		{timeoutMs: 20_000},
	);
	t.false(leecher.timedOut, describeRun(leecher));
	t.is(leecher.code, 0, describeRun(leecher));
	await assertSameFiles(t, downloadDir, seeder.payload, 'the torrent-rx leecher');

	const events = debugEvents(leecher.stderr);
	const sources = new Set(
		events.filter((event) => event.type === 'piece-verified').map((event) => String(event.peer)),
	);
	t.deepEqual([...sources], [`127.0.0.1:${seeder.port}`], 'every piece came from the seeder, on its --port');
	await stopSeeder(t, seeder);

	const unchoked = events.find((event) => event.type === 'peer-unchoked');
	const completed = events.find((event) => event.type === 'completed');
	t.log(
		`torrent-rx from torrent-rx, unchoke to completed: ${megabytesPerSecond(totalLength(seeder.payload), Number(completed?.at) - Number(unchoked?.at))}`,
	);
});

test('uploaded events add up to every byte a peer took, also when it leaves within a second', async (t) => {
	t.timeout(45_000);
	const seeder = await startTorrentRxSeeder(t, album, 64 * kib);
	const downloadDir = await tempDir(t);
	const leecher = await runTorrentRx(
		t,
		[seeder.torrentPath, '--output', downloadDir, '--port', String(await freePort())],
		{timeoutMs: 20_000},
	);
	t.is(leecher.code, 0, describeRun(leecher));

	const bytes = totalLength(seeder.payload);
	const uploaded = await waitForUploaded(seeder, bytes, 3000);
	t.true(uploaded >= bytes, `uploaded events add up to ${uploaded} bytes of ${bytes}`);
	await stopSeeder(t, seeder);
});

test('a seeder whose --port is taken listens on another and announces that one', async (t) => {
	t.timeout(45_000);
	const squatter = net.createServer();
	await new Promise<void>((resolve) => {
		squatter.listen(0, '0.0.0.0', () => resolve());
	});
	t.teardown(
		() =>
			new Promise<void>((resolve) => {
				squatter.close(() => resolve());
			}),
	);
	const takenPort = (squatter.address() as net.AddressInfo).port;

	const seeder = await startTorrentRxSeeder(t, album, 256 * kib, {port: takenPort});
	const downloadDir = await tempDir(t);
	const leecher = await runTorrentRx(
		t,
		[seeder.torrentPath, '--output', downloadDir, '--port', String(await freePort()), '--debug'],
		{timeoutMs: 20_000},
	);
	t.is(leecher.code, 0, describeRun(leecher));
	await assertSameFiles(t, downloadDir, seeder.payload, 'the torrent-rx leecher');
	const sources = new Set(
		debugEvents(leecher.stderr)
			.filter((event) => event.type === 'piece-verified')
			.map((event) => String(event.peer)),
	);
	t.is(sources.size, 1, 'one seeder');
	t.false(sources.has(`127.0.0.1:${takenPort}`), 'not on the taken port');
	const listed = await trackerPeers(seeder.trackerUrl, seeder.infoHash);
	t.true(
		listed.some((peer) => sources.has(`${peer.host}:${peer.port}`)),
		`the tracker lists the port the seeder listens on (${JSON.stringify(listed)})`,
	);
	t.false(
		listed.some((peer) => peer.port === takenPort),
		'and not the taken one',
	);
	await stopSeeder(t, seeder);
});

// Serial: ava runs serial tests first, alone, so that the kill's timing is not at the mercy of
// the CPU the other tests use.
test.serial('resumes after SIGKILL: keeps the verified pieces and never requests them again', async (t) => {
	t.timeout(30_000);
	const pieceLength = 64 * kib;
	const seedDir = await tempDir(t);
	const outputDir = await tempDir(t);
	const payload = await makePayload(seedDir, {name: 'resume.bin', length: 24 * mib + 4321});
	const pieceCount = Math.ceil(totalLength(payload) / pieceLength);

	// libtorrent would hand over 24 MiB in a fraction of a second; through a proxy at 8 MiB/s the
	// download takes about three, and the kill lands in it.
	const swarm = await startSwarm(t, payload, pieceLength);
	const {torrentPath} = await slowRoute(t, payload, pieceLength, {
		upstreamPort: swarm.seeder.port,
		bytesPerSecond: 8 * mib,
		torrentPath: path.join(seedDir, 'slow.torrent'),
	});

	const args = [torrentPath, '--output', outputDir, '--debug'];
	const first = spawnTorrentRx(t, [...args, '--port', String(await freePort())], {timeoutMs: 20_000});
	const wanted = Math.ceil(pieceCount * 0.3);
	await waitForDebugEvent(
		first,
		(_event, events) => events.filter((event) => event.type === 'piece-verified').length >= wanted,
		{timeoutMs: 15_000},
	);
	first.child.kill('SIGKILL');
	const killed = await first.result;
	t.is(killed.signal, 'SIGKILL', describeRun(killed));

	const firstEvents = debugEvents(killed.stderr);
	const verifiedBefore = new Set(
		firstEvents.filter((event) => event.type === 'piece-verified').map((event) => Number(event.index)),
	);
	t.false(
		firstEvents.some((event) => event.type === 'completed'),
		'the kill landed before the download completed',
	);
	t.true(
		verifiedBefore.size >= wanted && verifiedBefore.size < pieceCount,
		`${verifiedBefore.size} verified`,
	);
	t.log(`killed after ${verifiedBefore.size} of ${pieceCount} pieces`);

	const second = await runTorrentRx(t, [...args, '--port', String(await freePort())], {timeoutMs: 20_000});
	t.false(second.timedOut, describeRun(second));
	t.is(second.code, 0, describeRun(second));
	await assertSameFiles(t, outputDir, payload, 'the resumed torrent-rx');

	const secondEvents = debugEvents(second.stderr);
	const checked = secondEvents.find((event) => event.type === 'checked');
	t.like(checked, {total: pieceCount});
	t.true(
		Number(checked?.pieces) >= verifiedBefore.size,
		`the check kept ${String(checked?.pieces)} pieces; the first run had verified ${verifiedBefore.size}`,
	);
	const requestedAgain = secondEvents
		.filter((event) => event.type === 'piece-started' && verifiedBefore.has(Number(event.index)))
		.map((event) => Number(event.index));
	t.deepEqual(requestedAgain, [], 'no piece verified by the first run was started again');
	const verifiedAfter = new Set(
		secondEvents.filter((event) => event.type === 'piece-verified').map((event) => Number(event.index)),
	);
	t.is(
		Number(checked?.pieces) + verifiedAfter.size,
		pieceCount,
		'the second run fetched only what was missing',
	);
});

test('--seed-time: a seeder stops on its own when the time is up', async (t) => {
	t.timeout(30_000);
	// 0.02 minutes is 1.2 s; --seed-time alone implies --seed.
	const seeder = await startTorrentRxSeeder(t, album, 256 * kib, {seedFlags: ['--seed-time', '0.02']});
	const result = await Promise.race([seeder.run.result, sleep(8000)]);
	if (!result) {
		t.fail(`still seeding 8 s into a --seed-time of 1.2 s; stderr:\n${seeder.run.stderr().slice(-2000)}`);
		return;
	}

	const exitedAt = Date.now();
	t.is(result.code, 0, describeRun(result));
	const seeding = debugEvents(result.stderr).find((event) => event.type === 'seeding');
	t.true(exitedAt - Number(seeding?.at) >= 1200, `seeded ${exitedAt - Number(seeding?.at)} ms of 1200`);
	t.deepEqual(await trackerPeers(seeder.trackerUrl, seeder.infoHash), [], 'told the tracker it stopped');
});

test('--seed-ratio: a seeder stops on its own once it has uploaded enough', async (t) => {
	t.timeout(45_000);
	const seeder = await startTorrentRxSeeder(t, album, 64 * kib, {seedFlags: ['--seed-ratio', '0.25']});
	const {torrentPath} = await slowRoute(t, seeder.payload, 64 * kib, {
		upstreamPort: seeder.port,
		bytesPerSecond: 2 * mib,
		torrentPath: path.join(await tempDir(t), 'slow.torrent'),
	});
	// The seeder may well stop before this leecher has everything: a ratio is a ratio.
	const leecher = spawnTorrentRx(
		t,
		[torrentPath, '--output', await tempDir(t), '--port', String(await freePort()), '--debug'],
		{timeoutMs: 35_000},
	);

	// Generous: on a loaded CI machine the leecher alone can take seconds to start.
	const result = await Promise.race([seeder.run.result, sleep(25_000)]);
	// What the leecher verified depends on how much the proxy still held when the seeder left;
	// what the seeder sent does not.
	const received = debugEvents(leecher.stderr())
		.filter((event) => event.type === 'piece-verified')
		.reduce((sum, event) => sum + Number(event.bytes), 0);
	const sent = debugEvents(seeder.run.stderr())
		.filter((event) => event.type === 'uploaded')
		.reduce((sum, event) => sum + Number(event.bytes), 0);
	t.true(sent >= 0.25 * totalLength(seeder.payload), `the seeder sent ${sent} bytes before stopping`);
	if (!result) {
		t.fail(
			`still running 25 s after a leecher started taking ${totalLength(seeder.payload)} bytes with --seed-ratio 0.25 (it has ${received}); seeder stderr:\n${seeder.run.stderr().slice(-2000)}`,
		);
		return;
	}

	t.is(result.code, 0, describeRun(result));
	t.false(
		(await trackerPeers(seeder.trackerUrl, seeder.infoHash)).some((peer) => peer.port === seeder.port),
		'told the tracker it stopped',
	);
});

for (const [flags, message] of [
	[['--seed-time', '0'], /--seed-time must be a positive number of minutes/],
	[['--seed-ratio', '-1'], /--seed-ratio must be a positive number/],
	[['--seed-ratio', 'lots'], /--seed-ratio must be a positive number/],
] as const) {
	test(`rejects ${flags.join(' ')} in one line with exit code 2`, async (t) => {
		t.timeout(20_000);
		const result = await runTorrentRx(t, ['missing.torrent', ...flags], {timeoutMs: 15_000});
		t.is(result.code, 2, describeRun(result));
		t.regex(result.stderr, message);
		t.is(result.stderr.trim().split('\n').length, 1, result.stderr);
	});
}
