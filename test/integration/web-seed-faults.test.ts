/**
 * Web seeds (BEP 19) that misbehave, each beside a good one (Debian's nginx, slowed by a link
 * where the bad seed must get to its fault first): a 404 on one file, wrong bytes in one range,
 * no Range support, a stall, resets that pass, a redirect chain, 503s that pass. The run completes
 * byte-identical; the bad seed is dropped with a reason that names the fault, or retried, or (when
 * its fault is one a client can live with) it contributes. A torrent whose only web seed 404s
 * everything reports the seed dropped and waits for peers; `--select` of one file asks the seed
 * for that file and for the bytes of its neighbours in the pieces they share, nothing else.
 *
 * The SSRF rule (a seed on a public address redirected to a local one) cannot be shown here: on
 * 127.0.0.1 every address is local. test/webseed/http-range.test.ts covers it at the client.
 */
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {faultHttpServer, type PathFaults, type ServedRequest} from '../helpers/fault-http-server.js';
import {assertSameFiles, describeRun, downloadArgs, downloadWithTorrentRx} from '../helpers/interop.js';
import {startLatencyProxy} from '../helpers/latency-proxy.js';
import {startNginx} from '../helpers/nginx.js';
import {
	createTorrentWith,
	type DebugEvent,
	debugEvents,
	freePort,
	killProcess,
	libtorrentView,
	makePayload,
	type PayloadSpec,
	spawnTorrentRx,
	tempDir,
	waitForDebugEvent,
} from '../helpers/swarm-fixture.js';

const kib = 1024;
const pieceLength = 64 * kib;
const flags = ['--no-history', '--no-dht'];

/**
 * Three files (v1, no pad files) whose boundaries fall inside pieces: 20 pieces, the last of
 * 54,817 bytes, so no piece is shorter than a fault's "some bytes" (20,000).
 */
const album: PayloadSpec = {
	name: 'album',
	files: [
		{path: 'a.bin', length: 150_001},
		{path: 'b.bin', length: 900_000},
		{path: 'c.bin', length: 250_000},
	],
};

/** One file of the torrent: its URL path on a seed serving the payload's folder, and where its bytes are in the torrent. */
type TorrentFile = {urlPath: string; offset: number; size: number};

/**
 * A payload served by a fault server (the bad seed) and by nginx (the good one), behind a link
 * of `goodBytesPerSecond` a connection when given, and a torrent naming both, bad first.
 */
async function twoSeeds(
	t: ExecutionContext,
	spec: PayloadSpec,
	{goodBytesPerSecond}: {goodBytesPerSecond?: number} = {},
) {
	const root = await tempDir(t);
	const payload = await makePayload(root, spec);
	const bad = await faultHttpServer(t, {dir: root});
	const nginx = await startNginx(t, {root});
	const goodPort = goodBytesPerSecond
		? (
				await startLatencyProxy(t, nginx.port, {
					delayMs: 1,
					bytesPerSecond: goodBytesPerSecond,
					maxHeldBytes: 64 * kib,
				})
			).port
		: nginx.port;
	const badUrl = `${bad.origin}/`;
	const goodUrl = `http://127.0.0.1:${goodPort}/`;
	const torrentPath = path.join(await tempDir(t), `${spec.name}.torrent`);
	await createTorrentWith(payload.path, torrentPath, {
		pieceLength,
		v1Only: true,
		webSeeds: [badUrl, goodUrl],
	});
	const files = await torrentFiles(torrentPath);
	/** Gives every file of the torrent the same faults on the bad seed. */
	const faultEveryFile = (faults: PathFaults) => {
		for (const file of files) {
			bad.setFaults(file.urlPath, {...faults});
		}
	};

	return {payload, bad, nginx, badUrl, goodUrl, torrentPath, files, faultEveryFile};
}

/** The torrent's files in its own order (libtorrent's), with their offsets in a v1 torrent. */
async function torrentFiles(torrentPath: string): Promise<TorrentFile[]> {
	const view = await libtorrentView(torrentPath);
	let offset = 0;
	return view.files.map((entry) => {
		const file = {urlPath: `/${entry.path}`, offset, size: entry.size};
		offset += entry.size;
		return file;
	});
}

function fileAt(files: readonly TorrentFile[], name: string): TorrentFile {
	const file = files.find((entry) => entry.urlPath.endsWith(`/${name}`));
	if (!file) {
		throw new Error(`no ${name} in the torrent`);
	}

	return file;
}

/** The pieces holding any of the torrent's bytes `start..end` (inclusive). */
function piecesOver(start: number, end: number): number[] {
	const pieces: number[] = [];
	for (let piece = Math.floor(start / pieceLength); piece <= Math.floor(end / pieceLength); piece++) {
		pieces.push(piece);
	}

	return pieces;
}

async function downloadFrom(
	t: ExecutionContext,
	seeds: Awaited<ReturnType<typeof twoSeeds>>,
	timeoutMs: number,
) {
	const downloadDir = await tempDir(t);
	const run = await downloadWithTorrentRx(t, {torrentPath: seeds.torrentPath, downloadDir, flags, timeoutMs});
	// No unverified byte was written: every file is the original's, byte for byte.
	await assertSameFiles(t, downloadDir, seeds.payload, 'torrent-rx from two web seeds, one of them bad');
	return run;
}

type SeedFailure = {reason: string; retryInMs?: number};

/** The `web-seed-failed` events of `seed`, in order. */
function failuresOf(events: readonly DebugEvent[], seed: string): SeedFailure[] {
	return events
		.filter((event) => event.type === 'web-seed-failed' && event.seed === seed)
		.map((event) => ({
			reason: String(event.reason),
			...(typeof event.retryInMs === 'number' ? {retryInMs: event.retryInMs} : {}),
		}));
}

/** The pieces verified with `peer` as their sender. */
function verifiedFrom(events: readonly DebugEvent[], peer: string): number[] {
	return events
		.filter((event) => event.type === 'piece-verified' && event.peer === peer)
		.map((event) => Number(event.index));
}

/** The seed was dropped once, last, without `retryInMs`, for a reason matching `reason`. */
function assertDropped(t: ExecutionContext, failures: readonly SeedFailure[], reason: RegExp) {
	const drops = failures.filter((failure) => failure.retryInMs === undefined);
	t.is(drops.length, 1, JSON.stringify(failures));
	t.is(failures.at(-1)?.retryInMs, undefined, 'nothing after the drop');
	t.regex(drops[0]?.reason ?? '', reason);
}

/** A request's `bytes=first-last`. */
function rangeOf(request: ServedRequest): {start: number; end: number} {
	const match = /^bytes=(\d+)-(\d+)$/.exec(request.range ?? '');
	if (!match) {
		throw new Error(`${request.url} asked for ${request.range ?? 'no range'}`);
	}

	return {start: Number(match[1]), end: Number(match[2])};
}

/** No more than `bytes` of the body went out, and the request ended there unless its range was no longer. */
function cutAfter(request: ServedRequest, bytes: number): boolean {
	const {start, end} = rangeOf(request);
	return request.bytesSent <= bytes && (!request.finished || end - start + 1 <= bytes);
}

/** The byte intervals (inclusive) `ranges` cover, merged. */
function covered(ranges: ReadonlyArray<{start: number; end: number}>): Array<{start: number; end: number}> {
	const merged: Array<{start: number; end: number}> = [];
	for (const range of [...ranges].sort((a, b) => a.start - b.start)) {
		const last = merged.at(-1);
		if (last && range.start <= last.end + 1) {
			last.end = Math.max(last.end, range.end);
		} else {
			merged.push({...range});
		}
	}

	return merged;
}

const logFailures = (t: ExecutionContext, failures: readonly SeedFailure[]) => {
	for (const failure of failures) {
		t.log(
			`web-seed-failed${failure.retryInMs === undefined ? '' : ` (retry in ${failure.retryInMs} ms)`}: ${failure.reason}`,
		);
	}
};

test('a 404 on one file marks it missing on that seed: the good seed serves that file, the bad one still the others', async (t) => {
	t.timeout(90_000);
	const seeds = await twoSeeds(t, album, {goodBytesPerSecond: 100_000});
	const b = fileAt(seeds.files, 'b.bin');
	seeds.bad.setFaults(b.urlPath, {status: 404});
	const {events, sources} = await downloadFrom(t, seeds, 60_000);
	const failures = failuresOf(events, seeds.badUrl);
	logFailures(t, failures);
	const missing = failures.filter((failure) => failure.retryInMs === 0);
	t.true(missing.length > 0, 'the 404 was reported');
	t.true(
		missing.every((failure) =>
			/\/album\/b\.bin bytes \d+-\d+: HTTP 404: no such file on the web seed; its other files are still asked of it/.test(
				failure.reason,
			),
		),
		'each 404 names the file, and the seed goes on',
	);
	t.true(sources.includes(seeds.goodUrl));
	const badPieces = new Set(verifiedFrom(events, seeds.badUrl));
	t.deepEqual(
		piecesOver(b.offset, b.offset + b.size - 1).filter((piece) => badPieces.has(piece)),
		[],
		'no piece holding bytes of the missing file came from the bad seed',
	);
	t.true(badPieces.size > 0, 'the bad seed served pieces of the other files');
	const statuses = seeds.bad.requestsFor(b.urlPath).map((request) => request.status);
	t.true(
		statuses.length > 0 && statuses.length <= 3 && statuses.every((status) => status === 404),
		statuses.join(', '),
	);
});

test('wrong bytes in one range: the pieces over it fail the hash, three strikes ban the seed, and none of them is taken from it', async (t) => {
	t.timeout(90_000);
	const seeds = await twoSeeds(t, album, {goodBytesPerSecond: 100_000});
	const b = fileAt(seeds.files, 'b.bin');
	// 400,000 bytes of b.bin flipped: pieces 3 to 9 of the torrent hold some of them.
	const corrupt = {start: 100_000, end: 499_999};
	seeds.bad.setFaults(b.urlPath, {corrupt});
	const {events, sources} = await downloadFrom(t, seeds, 60_000);
	const failures = failuresOf(events, seeds.badUrl);
	logFailures(t, failures);
	const spoiled = piecesOver(b.offset + corrupt.start, b.offset + corrupt.end);
	const struck = events.filter((event) => event.type === 'piece-failed' && event.peer === seeds.badUrl);
	t.log(
		`piece-failed from the bad seed: ${struck.map((event) => `${event.index} (strike ${event.strikes})`).join(', ')}`,
	);
	t.deepEqual(
		struck.map((event) => event.strikes),
		[1, 2, 3],
	);
	t.true(
		struck.every((event) => spoiled.includes(Number(event.index))),
		'only pieces over the range failed',
	);
	assertDropped(t, failures, /sent 3 pieces that failed the hash check/);
	t.true(
		failures.every((failure) => failure.retryInMs === undefined),
		'a ban is not retried',
	);
	const badPieces = new Set(verifiedFrom(events, seeds.badUrl));
	t.deepEqual(
		spoiled.filter((piece) => badPieces.has(piece)),
		[],
		'no piece over the wrong bytes was verified as the bad seed’s',
	);
	t.true(sources.includes(seeds.goodUrl));
});

test('a seed that ignores Range (200 with the whole file) is read as a stream and contributes', async (t) => {
	t.timeout(90_000);
	const seeds = await twoSeeds(t, album, {goodBytesPerSecond: 100_000});
	seeds.faultEveryFile({ignoreRange: true});
	const {events, sources} = await downloadFrom(t, seeds, 60_000);
	t.deepEqual(failuresOf(events, seeds.badUrl), []);
	t.true(events.some((event) => event.type === 'web-seed-connected' && event.seed === seeds.badUrl));
	const badPieces = verifiedFrom(events, seeds.badUrl);
	t.true(badPieces.length > 0, 'the seed without Range contributed');
	t.log(
		`${badPieces.length} of 20 pieces from the seed without Range, in ${seeds.bad.requests.length} requests`,
	);
	t.true(sources.includes(seeds.badUrl));
	t.true(
		seeds.bad.requests.every((request) => request.status === 200 && request.range !== undefined),
		'every request asked for a range and got the whole file',
	);
});

test('a seed that stalls after some bytes holds nothing up: the good seed takes its blocks in endgame, and a stall is retried, never a drop', async (t) => {
	// The production stall timeout: no knob shortens it, so this test takes about 20 s.
	t.timeout(110_000);
	const seeds = await twoSeeds(t, album);
	seeds.faultEveryFile({stallAfter: 20_000});
	const {events, sources} = await downloadFrom(t, seeds, 90_000);
	const failures = failuresOf(events, seeds.badUrl);
	logFailures(t, failures);
	// The good seed takes the stalled seed's blocks in endgame, so the run may well be over before
	// the stall timeout: then the stall is never reported. When it is, it is the stall, retried.
	t.true(
		failures.every((failure) => /no byte for 20000 ms/.test(failure.reason)),
		'every failure is the stall',
	);
	t.true(
		failures.every((failure) => failure.retryInMs !== undefined),
		'a stall is retried, never a drop',
	);
	t.deepEqual(verifiedFrom(events, seeds.badUrl), [], 'no piece was completed by the stalling seed');
	t.deepEqual(sources, [seeds.goodUrl]);
	t.true(
		seeds.bad.requests.every((request) => cutAfter(request, 20_000)),
		'no request of the bad seed got further than the stall',
	);
});

test('a seed that resets the connection after some bytes is retried, and contributes once the resets stop', async (t) => {
	t.timeout(90_000);
	const seeds = await twoSeeds(t, album, {goodBytesPerSecond: 100_000});
	seeds.faultEveryFile({resetAfter: 20_000});
	const downloadDir = await tempDir(t);
	const run = spawnTorrentRx(
		t,
		[
			seeds.torrentPath,
			'--output',
			downloadDir,
			'--port',
			String(await freePort()),
			'--debug',
			'--no-metrics',
			...flags,
		],
		{timeoutMs: 60_000},
	);
	await waitForDebugEvent(run, (event) => event.type === 'web-seed-failed' && event.seed === seeds.badUrl, {
		timeoutMs: 30_000,
	});
	const resetRequests = seeds.bad.requests.length;
	// The server is well again; the good seed, at 3 × 100 kB/s, is far from done when the retry comes (2 s).
	seeds.faultEveryFile({});
	const result = await run.result;
	t.false(result.timedOut, describeRun(result));
	t.is(result.code, 0, describeRun(result));
	await assertSameFiles(t, downloadDir, seeds.payload, 'torrent-rx from a seed that reset, then recovered');
	const events = debugEvents(result.stderr);
	const failures = failuresOf(events, seeds.badUrl);
	logFailures(t, failures);
	t.true(failures.length > 0);
	t.true(
		failures.every(
			(failure) => failure.retryInMs !== undefined && /reset|connection was lost/.test(failure.reason),
		),
		'every failure is the reset, retried',
	);
	t.is(failures[0]?.retryInMs, 2000);
	const firstFailure = events.findIndex((event) => event.type === 'web-seed-failed');
	const firstPiece = events.findIndex(
		(event) => event.type === 'piece-verified' && event.peer === seeds.badUrl,
	);
	t.true(firstFailure >= 0 && firstPiece > firstFailure, 'the seed contributed after its retry');
	t.true(
		seeds.bad.requests.slice(0, resetRequests).every((request) => cutAfter(request, 20_000)),
		'no request before the recovery got further than the reset',
	);
});

test('a redirect chain (three hops, then the file) is followed, the range asked again at each hop, and the seed contributes', async (t) => {
	t.timeout(90_000);
	const seeds = await twoSeeds(t, album, {goodBytesPerSecond: 100_000});
	seeds.faultEveryFile({redirectHops: 3});
	const {events, sources} = await downloadFrom(t, seeds, 60_000);
	t.deepEqual(failuresOf(events, seeds.badUrl), []);
	t.true(sources.includes(seeds.badUrl));
	const answered = seeds.bad.requests.filter((request) => request.status === 206);
	t.true(answered.length > 0);
	for (const request of answered) {
		t.regex(request.url, /^\/\.hop\/3\/album\//);
		const hops = seeds.bad.requests.filter(
			(hop) => hop.status === 302 && hop.path === request.path && hop.range === request.range,
		);
		t.deepEqual(
			hops.map((hop) => hop.url),
			[request.path, `/.hop/1${request.path}`, `/.hop/2${request.path}`],
			`${request.path} ${request.range}`,
		);
	}
});

test('a 503 for the first three requests (one a run in flight), then the file: each run is retried and the seed contributes', async (t) => {
	t.timeout(90_000);
	const seeds = await twoSeeds(
		t,
		{name: 'film.bin', length: 2 * 1024 * kib + 4321},
		{goodBytesPerSecond: 100_000},
	);
	seeds.faultEveryFile({status: 503, statusTimes: 3});
	const {events, sources} = await downloadFrom(t, seeds, 60_000);
	const failures = failuresOf(events, seeds.badUrl);
	logFailures(t, failures);
	// Every run in flight's first request is answered 503: one outage, every run asked again at 2 s.
	t.is(failures.length, 3);
	t.is(failures[0]?.retryInMs, 2000);
	t.true(
		failures.every((failure) => failure.retryInMs !== undefined && failure.retryInMs <= 2000),
		'the runs that failed after the first wait for the same retry',
	);
	t.true(failures.every((failure) => /HTTP 503/.test(failure.reason)));
	t.true(sources.includes(seeds.badUrl), 'the seed contributed once the 503s passed');
	const firstFailure = events.findIndex((event) => event.type === 'web-seed-failed');
	const firstPiece = events.findIndex(
		(event) => event.type === 'piece-verified' && event.peer === seeds.badUrl,
	);
	t.true(firstFailure >= 0 && firstPiece > firstFailure, 'its pieces came after a retry');
	const statuses = seeds.bad.requests.map((request) => request.status);
	t.deepEqual(statuses.slice(0, 3), [503, 503, 503]);
	t.true(statuses.slice(3).every((status) => status === 206));
});

test('a torrent whose only source is a web seed that 404s everything: the seed is reported dropped, and the run waits for peers', async (t) => {
	t.timeout(60_000);
	const root = await tempDir(t);
	const payload = await makePayload(root, album);
	const server = await faultHttpServer(t, {files: {}});
	const seed = `${server.origin}/`;
	const torrentPath = path.join(await tempDir(t), 'album.torrent');
	await createTorrentWith(payload.path, torrentPath, {pieceLength, v1Only: true, webSeeds: [seed]});
	const downloadDir = await tempDir(t);
	const run = spawnTorrentRx(t, await downloadArgs(torrentPath, downloadDir, flags), {timeoutMs: 50_000});
	const dropped = await waitForDebugEvent(
		run,
		(event) => event.type === 'web-seed-failed' && event.retryInMs === undefined,
		{timeoutMs: 30_000},
	);
	t.log(`web-seed-failed: ${String(dropped.reason)}; ${server.requests.length} requests`);
	t.is(dropped.seed, seed);
	t.regex(String(dropped.reason), /HTTP 404: no such file on the web seed/);
	t.is(run.child.exitCode, null, 'the run goes on, waiting for peers');
	// Each file is marked missing on its first 404 (a run in flight may have asked for it too): a few
	// requests for each of the three files at most, and the seed is dropped once none is left.
	t.regex(String(dropped.reason), /it has none of the other pieces still wanted/);
	t.true(
		server.requests.length >= 3 && server.requests.length <= 3 * 3,
		`${server.requests.length} requests`,
	);
	await killProcess(run.child);
	const result = await run.result;
	t.false(result.timedOut);
	t.false(result.stderr.includes('"type":"completed"'));
});

test('--select of one file from a web seed asks for that file and for its neighbours’ bytes in the pieces they share, nothing else', async (t) => {
	t.timeout(90_000);
	const root = await tempDir(t);
	const payload = await makePayload(root, album);
	const server = await faultHttpServer(t, {dir: root});
	const torrentPath = path.join(await tempDir(t), 'album.torrent');
	await createTorrentWith(payload.path, torrentPath, {
		pieceLength,
		v1Only: true,
		webSeeds: [`${server.origin}/`],
	});
	const files = await torrentFiles(torrentPath);
	const b = fileAt(files, 'b.bin');
	const downloadDir = await tempDir(t);
	const {sources} = await downloadWithTorrentRx(t, {
		torrentPath,
		downloadDir,
		flags: [...flags, '--select', String(files.indexOf(b) + 1)],
		timeoutMs: 60_000,
	});
	t.deepEqual(sources, [`${server.origin}/`]);
	await assertSameFiles(
		t,
		downloadDir,
		{...payload, files: payload.files.filter((file) => file.relativePath === path.join('album', 'b.bin'))},
		'torrent-rx selecting b.bin',
	);
	// The pieces of b.bin, and what of each file they hold: the end of a.bin, all of b.bin, the start of c.bin.
	const pieces = piecesOver(b.offset, b.offset + b.size - 1);
	const spanStart = (pieces[0] ?? 0) * pieceLength;
	const spanEnd = ((pieces.at(-1) ?? 0) + 1) * pieceLength - 1;
	const expected = files.flatMap((file) => {
		const start = Math.max(spanStart, file.offset);
		const end = Math.min(spanEnd, file.offset + file.size - 1);
		return start <= end ? [{path: file.urlPath, start: start - file.offset, end: end - file.offset}] : [];
	});
	const asked = files.flatMap((file) =>
		covered(server.requestsFor(file.urlPath).map(rangeOf)).map((range) => ({path: file.urlPath, ...range})),
	);
	t.log(
		`${server.requests.length} requests: ${server.requests.map((request) => `${request.path} ${request.range}`).join(', ')}`,
	);
	t.deepEqual(asked, expected);
	t.deepEqual(
		[...new Set(server.requests.map((request) => request.path))].sort(),
		expected.map((range) => range.path).sort(),
	);
	const bytesAsked = server.requests.reduce(
		(sum, request) => sum + rangeOf(request).end - rangeOf(request).start + 1,
		0,
	);
	t.is(bytesAsked, spanEnd - spanStart + 1, 'every byte asked once');
});
