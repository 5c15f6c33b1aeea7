/**
 * Local service discovery (BEP 14): two torrent-rx runs on this machine, with no tracker and no
 * DHT, find each other by multicast on the local interfaces, loopback included.
 */
import {readFile} from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import {
	createTorrent,
	debugEvents,
	freePort,
	killProcess,
	makePayload,
	spawnTorrentRx,
	tempDir,
} from '../helpers/swarm-fixture.js';

test('with --lsd a downloader finds a seeder on the local network by its announcement', async (t) => {
	t.timeout(60_000);
	const seedDir = await tempDir(t);
	const outputDir = await tempDir(t);
	const payload = await makePayload(seedDir, {name: 'lsd.bin', length: 2 * 1024 * 1024 + 3});
	// The tracker does not exist: the local network is the only way.
	const {torrentPath} = await createTorrent(payload.path, 'http://127.0.0.1:9/announce', 64 * 1024);
	const common = ['--lsd', '--no-dht', '--no-metrics', '--no-history', '--debug'];
	// The downloader first: it hears the seeder announce itself when the seeder starts.
	const downloader = spawnTorrentRx(
		t,
		[torrentPath, '--output', outputDir, '--port', String(await freePort()), ...common],
		{timeoutMs: 45_000},
	);
	await new Promise((resolve) => setTimeout(resolve, 1500));
	const seeder = spawnTorrentRx(
		t,
		[torrentPath, '--output', seedDir, '--seed', '--port', String(await freePort()), ...common],
		{timeoutMs: 45_000},
	);
	const result = await downloader.result;
	await killProcess(seeder.child, 'SIGINT');
	t.is(result.code, 0, result.stderr.slice(-3000));
	const written = await readFile(path.join(outputDir, 'lsd.bin'));
	t.true(written.equals(payload.files[0]?.data ?? Buffer.alloc(0)), 'byte-identical');
	t.true(
		debugEvents(result.stderr).some((event) => event.type === 'peer-connecting' && event.source === 'lsd'),
		'the seeder was found by its BEP 14 announcement',
	);
});
