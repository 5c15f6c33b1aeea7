/**
 * Issue 7, tracker faults: a tracker that is down (port closed), answers HTTP 500, answers
 * garbage or accepts and never answers is a failed announce, never a failed run. BEP 12: the
 * tiers are tried in order until one answers; when none does, the whole list is tried again
 * after a back-off (15 s, doubling: runTorrent's `announceRetryMs`); and the run goes on with
 * the peers it reaches some other way. The trackers are small HTTP servers in the test.
 */
import {readFile} from 'node:fs/promises';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {NEVER, of, type Subscription} from 'rxjs';
import {announceByScheme} from '../../source/tracker/announce-port.js';
import {announcer} from '../../source/tracker/announcer.js';
import {
	type DebugEvent,
	debugEvents,
	freePort,
	runTorrentRx,
	spawnTorrentRx,
	tempDir,
	waitForDebugEvent,
} from '../helpers/swarm-fixture.js';
import {until} from '../helpers/until.js';
import {
	assertSameFiles,
	describeRun,
	eventsOfType,
	type FakeTracker,
	kib,
	makeFixture,
	mib,
	plainLines,
	startFakeTracker,
	startSeeder,
	type TrackerBehaviour,
} from './helpers/fault-fixture.js';

const pieceLength = 64 * kib;

/** Replies a tracker may send with status 200 that are not an announce response. */
const garbageBodies: Record<string, string> = {
	'an HTML page': '<html><body>502 Bad Gateway</body></html>',
	'an empty body': '',
	'a bencoded list': 'l5:peers8:intervale',
	'a bencoded integer': 'i1800e',
	'a truncated dictionary': 'd8:intervali18',
	'a string longer than the body': 'd5:peers999999999:abcdefe',
	'deep nesting': `${'l'.repeat(5000)}${'e'.repeat(5000)}`,
	'a failure reason': 'd14:failure reason17:torrent not founde',
};

/** A URL on 127.0.0.1 where nothing listens. */
/** A download into `outputDir` with every event on stderr, on a port of its own, no metrics, no history. */
async function cliArguments(torrent: string, outputDir: string): Promise<string[]> {
	return [
		torrent,
		'-o',
		outputDir,
		'--debug',
		'--no-metrics',
		'--no-history',
		'--port',
		String(await freePort()),
	];
}

async function closedTrackerUrl(): Promise<string> {
	return `http://127.0.0.1:${await freePort()}/announce`;
}

function hasStackTrace(stderr: string): boolean {
	return plainLines(stderr).some((line) => /^\s+at /.test(line));
}

test('a closed port, HTTP 500 and garbage replies are each tried in tier order, and a good tracker in the last tier brings the peers', async (t) => {
	t.timeout(45_000);
	let seederAddress = {host: '127.0.0.1', port: 0};
	const good = await startFakeTracker(t, {kind: 'peers', peers: () => [seederAddress]});
	const serverError = await startFakeTracker(t, {kind: 'status', status: 500});
	const notFound = await startFakeTracker(t, {kind: 'status', status: 404});
	const garbage: Array<{what: string; tracker: FakeTracker}> = [];
	for (const [what, body] of Object.entries(garbageBodies)) {
		garbage.push({
			what,
			tracker: await startFakeTracker(t, {kind: 'body', body: Buffer.from(body, 'latin1')}),
		});
	}

	const closed = await closedTrackerUrl();
	const badUrls = [closed, serverError.url, notFound.url, ...garbage.map(({tracker}) => tracker.url)];
	// One tracker a tier, so the order is fixed (BEP 12 shuffles only within a tier).
	const fixture = await makeFixture(t, {
		name: 'tiers.bin',
		pieceLength,
		tiers: [...badUrls, good.url].map((url) => [url]),
		length: 2 * mib,
		salt: 'tracker-tiers',
	});
	seederAddress = await startSeeder(t, fixture);
	const outputDir = await tempDir(t, 'torrent-rx-fault-out-');

	const result = await runTorrentRx(t, await cliArguments(fixture.torrentPath, outputDir), {
		timeoutMs: 30_000,
	});
	t.is(result.code, 0, describeRun(result));
	t.false(hasStackTrace(result.stderr), 'no stack trace, no crash');
	const events = debugEvents(result.stderr);
	const firstAnswer = events.findIndex((event) => event.type === 'announce-answered');
	const before = events.slice(0, firstAnswer);
	t.deepEqual(
		before.filter((event) => event.type === 'announce-sent').map((event) => event.tracker),
		[...badUrls, good.url],
		'every bad tracker was asked once, in tier order, before the good one',
	);
	const failures = before.filter((event) => event.type === 'announce-failed');
	t.deepEqual(
		failures.map((event) => event.tracker),
		badUrls,
		'each of them is an announce-failed event',
	);
	t.log(failures.map((event) => `${String(event.tracker)}: ${String(event.reason)}`).join('\n'));
	const reasons = new Map(failures.map((event) => [event.tracker, String(event.reason)]));
	t.regex(reasons.get(closed) ?? '', /ECONNREFUSED/);
	t.regex(reasons.get(serverError.url) ?? '', /HTTP 500/);
	t.regex(reasons.get(notFound.url) ?? '', /HTTP 404/);
	t.regex(
		reasons.get(garbage.at(-1)?.tracker.url) ?? '',
		/torrent not found/,
		'the tracker’s own failure reason',
	);
	t.is(events[firstAnswer]?.tracker, good.url);
	t.is(good.announces[0]?.event, 'started');
	await assertSameFiles(t, outputDir, fixture);
});

/** A hanging tracker in the first tier, a good one with the seeder in the second. */
async function hangingFirstTier(t: ExecutionContext, salt: string) {
	let seederAddress = {host: '127.0.0.1', port: 0};
	const hanging = await startFakeTracker(t, {kind: 'hang'});
	const good = await startFakeTracker(t, {kind: 'peers', peers: () => [seederAddress]});
	const fixture = await makeFixture(t, {
		name: 'hang.bin',
		pieceLength,
		tiers: [[hanging.url], [good.url]],
		length: 2 * mib,
		salt,
	});
	seederAddress = await startSeeder(t, fixture);
	const outputDir = await tempDir(t, 'torrent-rx-fault-out-');
	const run = spawnTorrentRx(t, await cliArguments(fixture.torrentPath, outputDir), {timeoutMs: 50_000});
	return {hanging, good, fixture, outputDir, run};
}

test('a tracker that accepts and never answers is given up after the HTTP timeout, and the next tier is asked', async (t) => {
	t.timeout(45_000);
	const {hanging, good, fixture, outputDir, run} = await hangingFirstTier(t, 'tracker-hang');
	await waitForDebugEvent(run, (event) => event.type === 'completed', {timeoutMs: 35_000});
	const events = debugEvents(run.stderr());
	const sent = events.find((event) => event.type === 'announce-sent' && event.tracker === hanging.url);
	const failed = events.find((event) => event.type === 'announce-failed' && event.tracker === hanging.url);
	t.truthy(failed, 'the hanging tracker is a failed announce');
	t.regex(String(failed?.reason), /no reply within 15000 ms/);
	const waitedMs = Number(failed?.at) - Number(sent?.at);
	t.true(waitedMs >= 14_000 && waitedMs < 20_000, `given up after ${waitedMs} ms (the HTTP timeout is 15 s)`);
	const answered = events.find((event) => event.type === 'announce-answered');
	t.is(answered?.tracker, good.url);
	t.true(Number(answered?.at) - Number(failed?.at) < 2000, 'the next tier was asked at once');
	t.is(hanging.announces[0]?.event, 'started', 'the hanging tracker got the request');
	await assertSameFiles(t, outputDir, fixture);
});

// Regression: the `completed` announce once went through the tiers in order, waiting the 15 s
// HTTP timeout for every dead or hanging tracker before the one that answered, and `stopped` to a
// hanging tracker then held the process until the CLI's 5 s exit timer (about 20 s in all here).
// `completed` and `stopped` now go first to the tracker that answered last.
test('a hanging tracker in the first tier does not hold the exit long after the download is complete', async (t) => {
	t.timeout(60_000);
	const {run} = await hangingFirstTier(t, 'tracker-hang-exit');
	const result = await run.result;
	const exitedAt = Date.now();
	t.is(result.code, 0, describeRun(result));
	const completed = debugEvents(result.stderr).find((event) => event.type === 'completed');
	const exitAfterMs = exitedAt - Number(completed?.at);
	t.log(`exited ${exitAfterMs} ms after the download completed`);
	t.true(exitAfterMs < 6000, `exited ${exitAfterMs} ms after the download completed`);
});

test('when no tracker answers and no peer is known, the run waits, asks every tier again after the back-off, and stops cleanly', async (t) => {
	t.timeout(45_000);
	const serverError = await startFakeTracker(t, {kind: 'status', status: 500});
	const garbage = await startFakeTracker(t, {kind: 'body', body: Buffer.from('<html></html>')});
	const closed = await closedTrackerUrl();
	const fixture = await makeFixture(t, {
		name: 'nobody.bin',
		pieceLength,
		tiers: [[closed], [serverError.url], [garbage.url]],
		length: 256 * kib,
		salt: 'tracker-nobody',
	});
	const outputDir = await tempDir(t, 'torrent-rx-fault-out-');
	const run = spawnTorrentRx(t, await cliArguments(fixture.torrentPath, outputDir), {timeoutMs: 40_000});
	// The second round: the third announce to the last tier's tracker.
	const cycleStarts = (events: readonly DebugEvent[]) =>
		events.filter((event) => event.type === 'announce-sent' && event.tracker === closed);
	await waitForDebugEvent(
		run,
		(_event, events) =>
			cycleStarts(events).length >= 2 &&
			events.at(-1)?.type === 'announce-failed' &&
			events.at(-1)?.tracker === garbage.url,
		{
			timeoutMs: 30_000,
		},
	);
	const events = debugEvents(run.stderr());
	const rounds = cycleStarts(events).map((event) => Number(event.at));
	const firstRoundEnd = Number(
		events.filter((event) => event.type === 'announce-failed' && event.tracker === garbage.url)[0]?.at,
	);
	const backoffMs = (rounds[1] ?? 0) - firstRoundEnd;
	t.true(
		backoffMs >= 14_500 && backoffMs < 17_000,
		`asked again ${backoffMs} ms after every tracker failed (15 s)`,
	);
	t.is(serverError.announces.length, 2, 'each tracker once a round');
	t.is(garbage.announces.length, 2);
	t.deepEqual(
		serverError.announces.map((announce) => announce.event),
		['started', 'started'],
		'the retry is still the first (started) announce',
	);
	t.false(
		events.some((event) => event.type === 'completed'),
		'nothing to download from',
	);

	run.child.kill('SIGINT');
	const result = await run.result;
	t.is(result.code, 130, describeRun(result));
	t.false(hasStackTrace(result.stderr), 'no stack trace');
});

test('the announcer backs off 1×, 2×, 4× the retry delay over real trackers that hang, fail and refuse', async (t) => {
	t.timeout(20_000);
	// runTorrent's announcer and HTTP port, with short timings: the whole schedule in about 4 s.
	const httpTimeoutMs = 300;
	const retryDelayMs = 250;
	const hanging = await startFakeTracker(t, {kind: 'hang'});
	const serverError = await startFakeTracker(t, {kind: 'status', status: 500});
	const garbage = await startFakeTracker(t, {kind: 'body', body: Buffer.from('i42e')});
	const closed = await closedTrackerUrl();
	const tiers = [[hanging.url], [serverError.url], [closed], [garbage.url]];
	const seen: Array<{type: string; tracker: string; at: number; reason?: string}> = [];
	let subscription: Subscription | undefined;
	t.teardown(() => subscription?.unsubscribe());
	await new Promise<void>((resolve, reject) => {
		subscription = announcer(announceByScheme({httpTimeoutMs}), {
			tiers,
			request: () => ({
				infoHash: Buffer.alloc(20, 7),
				peerId: Buffer.from('-RX0001-backofftest0'),
				port: 6881,
				uploaded: 0,
				downloaded: 0,
				left: 1000,
				numwant: 50,
			}),
			completed$: NEVER,
			keepAnnouncing: true,
			hungry$: of(true),
			timeoutMs: 10_000,
			retryDelayMs,
			defaultMinIntervalMs: 30_000,
		}).subscribe({
			next: (event) => {
				seen.push({
					type: event.type,
					tracker: event.tracker,
					at: Date.now(),
					...('reason' in event ? {reason: event.reason} : {}),
				});
				if (
					seen.filter((entry) => entry.type === 'announce-sent' && entry.tracker === hanging.url).length >= 4
				) {
					resolve();
				}
			},
			error: reject,
			complete: () => reject(new Error('the announcer completed')),
		});
	});
	// `announce-sent` comes before the request's connection reaches the tracker: wait for the
	// fourth to arrive, or letting go now could abort it before the tracker ever sees it.
	await until(() => hanging.connections() >= 4, 5000, 'the hanging tracker accepted the fourth announce');
	subscription?.unsubscribe();

	t.false(
		seen.some((event) => event.type === 'announce-answered'),
		'nobody answered',
	);
	// Each round asks every tier in order, and each fails.
	const rounds: Array<typeof seen> = [];
	for (const event of seen) {
		if (event.type === 'announce-sent' && event.tracker === hanging.url) {
			rounds.push([]);
		}

		rounds.at(-1)?.push(event);
	}

	for (const [index, round] of rounds.slice(0, 3).entries()) {
		t.deepEqual(
			round.filter((event) => event.type === 'announce-failed').map((event) => event.tracker),
			tiers.map(([url]) => url),
			`round ${index + 1}: every tier failed, in order`,
		);
	}

	const gaps = rounds.slice(1).map((round, index) => (round[0]?.at ?? 0) - (rounds[index]?.at(-1)?.at ?? 0));
	t.log(`pauses between rounds: ${gaps.join(', ')} ms`);
	for (const [index, gap] of gaps.entries()) {
		const expected = retryDelayMs * 2 ** index;
		t.true(
			gap >= expected - 20 && gap < expected + 200,
			`pause ${index + 1} is ${gap} ms, about ${expected} ms`,
		);
	}

	const hangFailure = rounds[0]?.find(
		(event) => event.tracker === hanging.url && event.type === 'announce-failed',
	);
	t.regex(hangFailure?.reason ?? '', /no reply within 300 ms/);
	t.is(hanging.connections(), 4, 'one connection per announce, each dropped when given up');
});

test('a magnet link whose trackers are all broken still downloads from the peer it names (x.pe)', async (t) => {
	t.timeout(45_000);
	const serverError = await startFakeTracker(t, {kind: 'status', status: 500});
	const hanging = await startFakeTracker(t, {kind: 'hang'});
	const closed = await closedTrackerUrl();
	const fixture = await makeFixture(t, {
		name: 'magnet.bin',
		pieceLength,
		tiers: [[closed]],
		length: 2 * mib,
		salt: 'tracker-magnet',
	});
	const seeder = await startSeeder(t, fixture);
	const outputDir = await tempDir(t, 'torrent-rx-fault-out-');
	const link = `magnet:?xt=urn:btih:${fixture.infoHash}&dn=magnet.bin${[closed, serverError.url, hanging.url]
		.map((url) => `&tr=${encodeURIComponent(url)}`)
		.join('')}&x.pe=${encodeURIComponent(`${seeder.host}:${seeder.port}`)}`;

	const result = await runTorrentRx(t, await cliArguments(link, outputDir), {timeoutMs: 30_000});
	t.is(result.code, 0, describeRun(result));
	const failed = new Set(eventsOfType(result.stderr, 'announce-failed').map((event) => event.tracker));
	t.true(failed.has(closed) && failed.has(serverError.url), 'the trackers failed');
	t.deepEqual(eventsOfType(result.stderr, 'announce-answered'), [], 'no tracker answered');
	const written = await readFile(path.join(outputDir, 'magnet.bin'));
	t.true(written.equals(fixture.files[0]?.data ?? Buffer.alloc(0)), 'byte-identical');
});

// Regression: a tracker that answered no peers with `min interval: 0` was once asked again at once,
// over and over (about 300 announces a second): while hungry, tracker/announcer.ts
// `waitForNextAnnounce` waited only `min interval`. The hungry re-announce is now floored at 10 s.
test('a tracker that answers no peers with `min interval: 0` is not asked again in a busy loop', async (t) => {
	t.timeout(30_000);
	const behaviour: TrackerBehaviour = {
		kind: 'body',
		body: Buffer.from('d8:intervali1800e12:min intervali0e5:peers0:e'),
	};
	const empty = await startFakeTracker(t, behaviour);
	const fixture = await makeFixture(t, {
		name: 'min-interval.bin',
		pieceLength,
		tiers: [[empty.url]],
		length: 256 * kib,
		salt: 'tracker-min-interval',
	});
	const outputDir = await tempDir(t, 'torrent-rx-fault-out-');
	const run = spawnTorrentRx(t, await cliArguments(fixture.torrentPath, outputDir), {timeoutMs: 20_000});
	await waitForDebugEvent(run, (event) => event.type === 'announce-answered', {timeoutMs: 15_000});
	await new Promise((resolve) => setTimeout(resolve, 3000));
	const announces = empty.announces.length;
	run.child.kill('SIGINT');
	await run.result;
	t.log(`${announces} announces in about 3 s`);
	t.true(announces <= 3, `${announces} announces in about 3 s`);
});
