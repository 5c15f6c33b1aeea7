/**
 * Web seeds (BEP 19) against a real HTTP server, Debian's nginx on 127.0.0.1: a single-file and a
 * multi-file torrent whose only source is the web seed download byte-identical; an Internet-Archive-
 * shaped torrent (libtorrent's defaults: hybrid, pad files; two mirrors, one of them dead; no
 * tracker, no DHT) completes from the live one, and no pad file is ever asked for.
 */
import {access, readdir} from 'node:fs/promises';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {assertSameFiles, downloadWithTorrentRx} from '../helpers/interop.js';
import {startLatencyProxy} from '../helpers/latency-proxy.js';
import {startNginx} from '../helpers/nginx.js';
import {
	announceSeeder,
	createTorrentWith,
	freePort,
	libtorrentView,
	makePayload,
	type PayloadSpec,
	startLibtorrentSeeder,
	startOpentracker,
	tempDir,
} from '../helpers/swarm-fixture.js';

const kib = 1024;

/** Flags for a run with no tracker, no DHT and no log: the web seed is the only source. */
const webSeedOnly = ['--no-history', '--no-dht'];

/** The request lines nginx logged, and the paths they asked for. */
async function requestsOf(nginx: {accessLog(minLines?: number): Promise<string[]>}, minLines = 1) {
	const lines = await nginx.accessLog(minLines);
	return lines.map((line) => ({line, path: decodeURIComponent(/"GET ([^ ]+) HTTP/.exec(line)?.[1] ?? '')}));
}

async function exists(file: string): Promise<boolean> {
	return access(file).then(
		() => true,
		() => false,
	);
}

async function served(t: ExecutionContext, spec: PayloadSpec) {
	const root = await tempDir(t);
	const payload = await makePayload(root, spec);
	const nginx = await startNginx(t, {root});
	return {root, payload, nginx};
}

test('a single-file torrent whose only source is its web seed (the URL of the file itself) downloads byte-identical', async (t) => {
	t.timeout(90_000);
	const {root, payload, nginx} = await served(t, {name: 'film.bin', length: 3 * 1024 * kib + 12_345});
	const torrentPath = path.join(root, 'film.torrent');
	await createTorrentWith(payload.path, torrentPath, {
		pieceLength: 256 * kib,
		v1Only: true,
		webSeeds: [`${nginx.url}film.bin`],
	});
	const downloadDir = await tempDir(t);
	const {events, sources} = await downloadWithTorrentRx(t, {
		torrentPath,
		downloadDir,
		flags: webSeedOnly,
		timeoutMs: 60_000,
	});
	t.deepEqual(sources, [`${nginx.url}film.bin`]);
	t.true(events.some((event) => event.type === 'web-seed-connected'));
	await assertSameFiles(t, downloadDir, payload, 'torrent-rx from nginx');
	const requests = await requestsOf(nginx);
	t.true(
		requests.every((request) => request.path === '/film.bin' && request.line.includes('range="bytes=')),
		requests.map((request) => request.line).join('\n'),
	);
	// Runs of several pieces: far fewer requests than the 13 pieces.
	t.true(requests.length < 13, `${requests.length} requests`);
});

/** Files of uneven sizes in folders, names with spaces: every boundary inside a piece, pad files between them in a hybrid torrent. */
const archive: PayloadSpec = {
	name: 'item 1979',
	files: [
		{path: 'item 1979.mp4', length: 1_300_000},
		{path: 'item 1979_meta.xml', length: 2_345},
		{path: 'thumbs/item 1979_000001.jpg', length: 70_001},
		{path: 'thumbs/item 1979_000002.jpg', length: 65_536},
		{path: 'item 1979.ogv', length: 900_000},
	],
};

test('an Internet-Archive-shaped torrent (pad files, two mirrors, one dead, no tracker, no DHT) completes from the live mirror, never asking for a pad file', async (t) => {
	t.timeout(120_000);
	const {root, payload, nginx} = await served(t, archive);
	const dead = `http://127.0.0.1:${await freePort()}/`;
	const torrentPath = path.join(root, 'item.torrent');
	await createTorrentWith(payload.path, torrentPath, {pieceLength: 64 * kib, webSeeds: [dead, nginx.url]});
	const view = await libtorrentView(torrentPath);
	t.true(view.padFiles > 0, 'libtorrent made pad files');
	const downloadDir = await tempDir(t);
	const {events, sources} = await downloadWithTorrentRx(t, {
		torrentPath,
		downloadDir,
		flags: webSeedOnly,
		timeoutMs: 90_000,
	});
	t.deepEqual(sources, [nginx.url]);
	await assertSameFiles(t, downloadDir, payload, 'torrent-rx from nginx', {exact: false});
	t.false(await exists(path.join(downloadDir, 'item 1979', '.pad')), 'no pad file on disk');
	const failed = events.filter((event) => event.type === 'web-seed-failed' && event.seed === dead);
	t.true(failed.length > 0, 'the dead mirror was tried and failed');
	const requests = await requestsOf(nginx);
	t.true(
		requests.every((request) => !request.path.includes('.pad')),
		requests.map((request) => request.line).join('\n'),
	);
	t.log(`${requests.length} HTTP requests for ${view.pieceCount} pieces`);
	t.true(requests.length <= view.pieceCount, `${requests.length} requests for ${view.pieceCount} pieces`);
	t.deepEqual((await readdir(path.join(downloadDir, 'item 1979'))).sort(), [
		'item 1979.mp4',
		'item 1979.ogv',
		'item 1979_meta.xml',
		'thumbs',
	]);
});

/**
 * A torrent with a web seed and a tracker with a libtorrent seeder, each behind a link of 2 MB/s
 * (the web seed is nginx through a TCP proxy): neither can take every piece before the other starts.
 */
async function seedAndPeer(t: ExecutionContext, size: number) {
	const {root, payload, nginx} = await served(t, {name: 'both.bin', length: size});
	const link = {delayMs: 5, bytesPerSecond: 2_000_000, maxHeldBytes: 256 * kib};
	const slowNginx = await startLatencyProxy(t, nginx.port, link);
	const trackerPort = await freePort();
	const torrentPath = path.join(root, 'both.torrent');
	const seedUrl = `http://127.0.0.1:${slowNginx.port}/both.bin`;
	const {infoHash, announcedHashes} = await createTorrentWith(payload.path, torrentPath, {
		pieceLength: 64 * kib,
		v1Only: true,
		trackers: [[`http://127.0.0.1:${trackerPort}/announce`]],
		webSeeds: [seedUrl],
	});
	const tracker = await startOpentracker(t, announcedHashes, {port: trackerPort});
	const seeder = await startLibtorrentSeeder(t, torrentPath, root, {mode: 'seed-quietly'});
	const slowSeeder = await startLatencyProxy(t, seeder.port, link);
	await announceSeeder(tracker.url, infoHash, slowSeeder.port);
	return {payload, torrentPath, nginx, seedUrl, peer: `127.0.0.1:${slowSeeder.port}`};
}

test('a web seed and a libtorrent seeder side by side: both contribute, and the download is byte-identical', async (t) => {
	t.timeout(120_000);
	const swarm = await seedAndPeer(t, 12 * 1024 * kib);
	const downloadDir = await tempDir(t);
	const {sources} = await downloadWithTorrentRx(t, {
		torrentPath: swarm.torrentPath,
		downloadDir,
		flags: ['--no-history', '--no-dht', '--encryption', 'off'],
		timeoutMs: 90_000,
	});
	t.deepEqual([...sources].sort(), [swarm.peer, swarm.seedUrl].sort());
	await assertSameFiles(t, downloadDir, swarm.payload, 'torrent-rx from nginx and libtorrent');
});

test('--no-web-seeds leaves them alone: the peer alone serves the download, and nginx hears nothing', async (t) => {
	t.timeout(120_000);
	const swarm = await seedAndPeer(t, 1024 * kib);
	const downloadDir = await tempDir(t);
	const {sources} = await downloadWithTorrentRx(t, {
		torrentPath: swarm.torrentPath,
		downloadDir,
		flags: ['--no-history', '--no-dht', '--encryption', 'off', '--no-web-seeds'],
		timeoutMs: 90_000,
	});
	t.deepEqual(sources, [swarm.peer]);
	t.deepEqual(await swarm.nginx.accessLog(), []);
});
