/**
 * BEP 47 pad files as libtorrent's defaults make them (a hybrid torrent, every file aligned to a
 * piece): torrent-rx downloads such a torrent from a libtorrent seeder byte-identical, makes no
 * pad file on disk, and asks the seeder for no pad byte; and seeds it to a libtorrent leecher.
 */
import {readdir} from 'node:fs/promises';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {countingProxy} from '../helpers/counting-proxy.js';
import {assertSameFiles, downloadWithTorrentRx, seedingAndAnnounced} from '../helpers/interop.js';
import {
	announceSeeder,
	createTorrentWith,
	freePort,
	libtorrentView,
	makePayload,
	type PayloadSpec,
	runLibtorrentDownload,
	spawnTorrentRx,
	startLibtorrentSeeder,
	startOpentracker,
	tempDir,
	waitForDebugEvent,
} from '../helpers/swarm-fixture.js';

const kib = 1024;

/** Small files in big pieces: most of each piece is pad bytes. */
const spread: PayloadSpec = {
	name: 'spread',
	files: [
		{path: 'a.bin', length: 70_001},
		{path: 'b/c.bin', length: 300_000},
		{path: 'd.txt', length: 5},
		{path: 'e.bin', length: 256 * kib},
	],
};

/** A hybrid torrent of `spread` made with libtorrent's defaults, behind a tracker: where its pad bytes are. */
async function hybrid(t: ExecutionContext) {
	const dir = await tempDir(t);
	const payload = await makePayload(dir, spread);
	const trackerPort = await freePort();
	const torrentPath = path.join(dir, 'spread.torrent');
	const {infoHash, announcedHashes} = await createTorrentWith(payload.path, torrentPath, {
		pieceLength: 256 * kib,
		trackers: [[`http://127.0.0.1:${trackerPort}/announce`]],
	});
	const tracker = await startOpentracker(t, announcedHashes, {port: trackerPort});
	const view = await libtorrentView(torrentPath);
	const padBytes = view.pieceCount * view.pieceLength - view.totalSize;
	return {dir, payload, torrentPath, infoHash, tracker, view, padBytes};
}

async function foldersAndFiles(dir: string): Promise<string[]> {
	const entries = await readdir(dir, {recursive: true});
	return entries.map((entry) => entry.split(path.sep).join('/')).sort();
}

test('a hybrid torrent with pad files from a libtorrent seeder: byte-identical, no pad file made, no pad byte asked for', async (t) => {
	t.timeout(120_000);
	const swarm = await hybrid(t);
	t.true(swarm.view.padFiles >= 3 && swarm.padBytes > 500 * kib, `${swarm.view.padFiles} pad files`);
	const seeder = await startLibtorrentSeeder(t, swarm.torrentPath, swarm.dir, {mode: 'seed-quietly'});
	const proxy = await countingProxy(t, seeder.port);
	await announceSeeder(swarm.tracker.url, swarm.infoHash, proxy.port);
	const downloadDir = await tempDir(t);
	const {events, sources} = await downloadWithTorrentRx(t, {
		torrentPath: swarm.torrentPath,
		downloadDir,
		flags: ['--no-history', '--encryption', 'off'],
		timeoutMs: 60_000,
	});
	t.deepEqual(sources, [`127.0.0.1:${proxy.port}`]);
	// The views, the metrics and the log count the user's bytes alone.
	const userBytes = swarm.view.totalSize;
	t.is(events.find((event) => event.type === 'started')?.totalLength, userBytes);
	t.is(events.find((event) => event.type === 'completed')?.bytes, userBytes);
	const verified = events.filter((event) => event.type === 'piece-verified');
	t.is(
		verified.reduce((sum, event) => sum + Number(event.bytes), 0),
		userBytes,
	);
	await assertSameFiles(t, downloadDir, swarm.payload, 'torrent-rx', {exact: false});
	const onDisk = (await foldersAndFiles(downloadDir)).filter((entry) => !entry.startsWith('.torrent-rx'));
	t.deepEqual(onDisk, [
		'spread',
		'spread/a.bin',
		'spread/b',
		'spread/b/c.bin',
		'spread/d.txt',
		'spread/e.bin',
	]);
	// The user's bytes, a handshake, a bitfield and 13 bytes a block: never the pad bytes too.
	const blocks = Math.ceil(swarm.view.totalSize / (16 * kib)) + swarm.view.files.length;
	const most = swarm.view.totalSize + 13 * blocks + 4 * kib;
	t.true(
		proxy.counted.bytes <= most,
		`${proxy.counted.bytes} bytes from the seeder, for ${swarm.view.totalSize} of files`,
	);
});

test('torrent-rx seeds the hybrid torrent to a libtorrent leecher, which verifies every piece, pad bytes as zeros', async (t) => {
	t.timeout(120_000);
	const swarm = await hybrid(t);
	const run = spawnTorrentRx(
		t,
		[
			swarm.torrentPath,
			'--output',
			swarm.dir,
			'--seed',
			'--port',
			String(await freePort()),
			'--debug',
			'--no-metrics',
		],
		{timeoutMs: 90_000},
	);
	await waitForDebugEvent(run, seedingAndAnnounced, {timeoutMs: 30_000});
	const leecherDir = await tempDir(t);
	const leecher = await runLibtorrentDownload(t, swarm.torrentPath, leecherDir, {timeoutMs: 60_000});
	t.is(leecher.code, 0, leecher.stderr);
	await assertSameFiles(t, leecherDir, swarm.payload, 'libtorrent', {exact: false});
});
