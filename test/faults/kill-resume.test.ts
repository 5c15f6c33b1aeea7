/**
 * Issue 7, process faults: `kill -9` at random moments of a download (while checking the files,
 * early, midway, late) must never cost a verified piece or leave a resume file that lies; each
 * re-run finds what is on disk and the last one finishes byte-identical. The seeder sits behind a
 * throttled proxy so that every kill lands mid-download.
 */
import {readdir} from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import {
	type DebugEvent,
	freePort,
	killProcess,
	type RunningTorrentRx,
	spawnTorrentRx,
	tempDir,
	waitForDebugEvent,
} from '../helpers/swarm-fixture.js';
import {
	assertSameFiles,
	checkResumeFile,
	describeRun,
	eventsOfType,
	kib,
	makeFixture,
	mib,
	startFakeTracker,
	startSeeder,
} from './helpers/fault-fixture.js';

const pieceLength = 64 * kib;

/**
 * Where in a run to kill it: after the run's own n-th verified piece, some milliseconds after it
 * started (long enough for resume saves, every 2 s), or while it checks the files.
 */
type KillPoint = {afterPieces: number} | {afterMs: number} | 'checking';

test('kill -9 at random points: every re-run resumes from disk and the files end byte-identical', async (t) => {
	t.timeout(90_000);
	let seederAddress = {host: '127.0.0.1', port: 0};
	const tracker = await startFakeTracker(t, {kind: 'peers', peers: () => [seederAddress]});
	const fixture = await makeFixture(t, {
		name: 'killed',
		pieceLength,
		tiers: [[tracker.url]],
		// Pieces spanning files, and a last piece that is short.
		files: [
			{path: ['a.bin'], length: 3 * mib + 1000},
			{path: ['sub', 'b.bin'], length: 100_000},
			{path: ['sub', 'c.bin'], length: 4 * mib + 7},
		],
		salt: 'kill-9',
	});
	const totalLength = fixture.files.reduce((sum, file) => sum + file.data.length, 0);
	const pieceCount = Math.ceil(totalLength / pieceLength);
	// About 7 s of downloading in all, spread over the runs.
	seederAddress = await startSeeder(t, fixture, {bytesPerSecond: mib});
	const outputDir = await tempDir(t, 'torrent-rx-fault-out-');

	const random = (below: number) => Math.floor(Math.random() * below);
	const killPoints: KillPoint[] = [
		{afterPieces: 1 + random(8)},
		{afterMs: 2500 + random(1000)},
		'checking',
		{afterPieces: 10 + random(20)},
		{afterMs: 500 + random(2500)},
	];
	t.log(`kill points: ${JSON.stringify(killPoints)} of ${pieceCount} pieces`);
	const args = [fixture.torrentPath, '-o', outputDir, '--debug', '--no-metrics'];
	const start = async () =>
		spawnTorrentRx(t, [...args, '--port', String(await freePort())], {timeoutMs: 40_000});

	/** Pieces some run reported verified (so written) before it was killed. */
	const verified = new Set<number>();
	const noteVerified = (stderr: string) => {
		for (const event of eventsOfType(stderr, 'piece-verified')) {
			verified.add(Number(event.index));
		}
	};

	const checkResumed = (run: RunningTorrentRx, iteration: number) => {
		if (iteration === 0) {
			return;
		}

		const checked = eventsOfType(run.stderr(), 'checked')[0];
		t.truthy(checked, `run ${iteration + 1} reported what it found on disk\n${run.stderr().slice(-2000)}`);
		t.true(
			Number(checked?.pieces) >= verified.size,
			`run ${iteration + 1} found all ${verified.size} pieces verified before: ${JSON.stringify(checked)}`,
		);
	};

	for (const [iteration, point] of killPoints.entries()) {
		const run = await start();
		// Never so late that the run could finish first: at the latest with a few pieces to go.
		const latest = Math.max(1, pieceCount - verified.size - 6);
		const verifiedInRun = (events: readonly DebugEvent[]) =>
			events.filter((seen) => seen.type === 'piece-verified').length;
		const killAt = (event: DebugEvent, events: readonly DebugEvent[]) =>
			point === 'checking'
				? event.type === 'checking' || event.type === 'checked'
				: 'afterMs' in point
					? event.type === 'started'
					: event.type === 'piece-verified' && verifiedInRun(events) >= Math.min(point.afterPieces, latest);
		const reached = await waitForDebugEvent(run, killAt, {timeoutMs: 30_000}).then(
			() => true,
			(error: unknown) => {
				t.fail(`run ${iteration + 1} never reached its kill point: ${String(error)}`);
				return false;
			},
		);
		if (!reached) {
			return;
		}

		// A little later still, so the kill does not always follow an event at once.
		await Promise.race([
			new Promise((resolve) =>
				setTimeout(
					resolve,
					point === 'checking' ? random(20) : 'afterMs' in point ? point.afterMs : random(100),
				),
			),
			waitForDebugEvent(
				run,
				(event, events) => event.type === 'piece-verified' && verifiedInRun(events) >= latest,
				{timeoutMs: 30_000},
			).catch(() => undefined),
		]);
		await killProcess(run.child, 'SIGKILL');
		const result = await run.result;
		t.is(result.signal, 'SIGKILL', `run ${iteration + 1} was killed, not finished\n${describeRun(result)}`);
		// Killed while checking, it never got to say what it found.
		if (point !== 'checking') {
			checkResumed(run, iteration);
		}

		noteVerified(result.stderr);
		const claimed = await checkResumeFile(t, outputDir, fixture, pieceLength);
		t.log(
			`run ${iteration + 1}: killed ${JSON.stringify(point)}; ${verified.size} pieces verified so far, ${claimed?.length ?? 'no'} in the resume file`,
		);
		if (verified.size >= pieceCount) {
			break;
		}
	}

	const last = await start();
	const result = await last.result;
	t.is(result.code, 0, describeRun(result));
	checkResumed(last, 1);
	const fetched = eventsOfType(result.stderr, 'piece-verified').map((event) => Number(event.index));
	t.deepEqual(
		fetched.filter((index) => verified.has(index)),
		[],
		'no piece verified before a kill was downloaded again',
	);
	t.true(verified.size > 0 && verified.size < pieceCount, 'the kills landed mid-download');
	await assertSameFiles(t, outputDir, fixture);
	const leftovers = (await readdir(path.join(outputDir, '.torrent-rx'))).filter((file) =>
		file.endsWith('.tmp'),
	);
	t.log(`temporary resume files left by the kills: ${leftovers.length}`);
	await checkResumeFile(t, outputDir, fixture, pieceLength);
});
