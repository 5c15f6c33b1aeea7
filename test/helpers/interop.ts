/**
 * What the interop tests against other clients (aria2c, WebTorrent) share: torrent-rx seeding a
 * payload behind a real opentracker, and the byte-for-byte check of what the other side wrote.
 */
import {readFile} from 'node:fs/promises';
import path from 'node:path';
import type {ExecutionContext} from 'ava';
import {
	type DebugEvent,
	debugEvents,
	freePort,
	listPayloadFiles,
	makePayload,
	type Opentracker,
	type Payload,
	type PayloadSpec,
	type RunningTorrentRx,
	runTorrentRx,
	spawnTorrentRx,
	tempDir,
	trackedTorrent,
	waitForDebugEvent,
} from './swarm-fixture.js';

/** About 3 MiB in four files of odd sizes, so that pieces span files. */
export const album: PayloadSpec = {
	name: 'album',
	files: [
		{path: 'cover.jpg', length: 300_001},
		{path: 'disc1/01.flac', length: 2 * 1024 * 1024 + 12_345},
		{path: 'disc1/02.flac', length: 1},
		{path: 'notes.txt', length: 777_777},
	],
};

/** Exit code, whether it timed out, and the tail of stderr: the message of a failed run. */
export function describeRun(result: {
	code: number | null;
	signal: string | null;
	timedOut: boolean;
	stderr: string;
}): string {
	return `exit ${result.code ?? result.signal}${result.timedOut ? ' (timed out)' : ''}\nstderr:\n${result.stderr.slice(-4000)}`;
}

/** The payload's files in `dir` are byte-identical to the originals, and (`exact`) nothing else is there. */
export async function assertSameFiles(
	t: ExecutionContext,
	dir: string,
	payload: Payload,
	who: string,
	{exact = true}: {exact?: boolean} = {},
) {
	if (exact) {
		t.deepEqual(
			await listPayloadFiles(dir),
			payload.files.map((file) => file.relativePath).sort(),
			`${who} wrote exactly the payload files`,
		);
	}

	for (const file of payload.files) {
		const written = await readFile(path.join(dir, file.relativePath));
		t.is(written.length, file.length, `${file.relativePath} from ${who} has the right size`);
		// Not t.deepEqual: a diff of megabytes helps nobody.
		t.true(written.equals(file.data), `${file.relativePath} from ${who} is byte-identical`);
	}
}

/** torrent-rx's arguments for a download of `torrentPath` into `downloadDir` on a free port, events on stderr, no metrics. */
export async function downloadArgs(
	torrentPath: string,
	downloadDir: string,
	flags: readonly string[],
): Promise<string[]> {
	return [
		torrentPath,
		'--output',
		downloadDir,
		'--port',
		String(await freePort()),
		'--debug',
		'--no-metrics',
		...flags,
	];
}

/**
 * torrent-rx downloading `torrentPath` into `downloadDir` with `flags`, which must complete in
 * `timeoutMs`; its debug events, and the peers its verified pieces came from.
 */
export async function downloadWithTorrentRx(
	t: ExecutionContext,
	{
		torrentPath,
		downloadDir,
		flags,
		timeoutMs,
	}: {torrentPath: string; downloadDir: string; flags: string[]; timeoutMs: number},
) {
	const leecher = await runTorrentRx(t, await downloadArgs(torrentPath, downloadDir, flags), {timeoutMs});
	t.false(leecher.timedOut, describeRun(leecher));
	t.is(leecher.code, 0, describeRun(leecher));
	const events = debugEvents(leecher.stderr);
	const sources = new Set(
		events.filter((event) => event.type === 'piece-verified').map((event) => String(event.peer)),
	);
	return {events, sources: [...sources]};
}

/** A `waitForDebugEvent` predicate: the run seeds, and a tracker has heard of it. */
export function seedingAndAnnounced(_event: DebugEvent, events: readonly DebugEvent[]): boolean {
	return (
		events.some((event) => event.type === 'seeding') &&
		events.some((event) => event.type === 'announce-answered')
	);
}

export type TorrentRxSeeder = {
	run: RunningTorrentRx;
	tracker: Opentracker;
	port: number;
	payload: Payload;
	torrentPath: string;
	infoHash: string;
};

/**
 * Makes `spec` in a fresh folder with a torrent announcing to a fresh opentracker, and seeds it
 * with torrent-rx (`--seed --debug --no-metrics`, `extraArgs` after them) from that folder; resolves once
 * torrent-rx is seeding and the tracker has answered it, so that the tracker lists it.
 */
export async function startTorrentRxSeeder(
	t: ExecutionContext,
	spec: PayloadSpec,
	pieceLength: number,
	{extraArgs = [], timeoutMs = 60_000}: {extraArgs?: string[]; timeoutMs?: number} = {},
): Promise<TorrentRxSeeder> {
	const seedDir = await tempDir(t);
	const payload = await makePayload(seedDir, spec);
	const {tracker, torrentPath, infoHash} = await trackedTorrent(t, payload, pieceLength);
	const port = await freePort();
	const run = spawnTorrentRx(
		t,
		[
			torrentPath,
			'--output',
			seedDir,
			'--seed',
			'--port',
			String(port),
			'--debug',
			'--no-metrics',
			...extraArgs,
		],
		{timeoutMs},
	);
	await waitForDebugEvent(run, seedingAndAnnounced, {timeoutMs: 20_000});
	t.false(
		debugEvents(run.stderr()).some((event) => event.type === 'piece-started'),
		'the seeder had every piece: nothing to download',
	);
	return {run, tracker, port, payload, torrentPath, infoHash};
}
