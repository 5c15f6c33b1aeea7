/**
 * Peer exchange (BEP 11) against libtorrent: torrent-rx is told of one slow libtorrent leecher
 * alone (a magnet link's x.pe, no tracker, no DHT); the leecher is connected to a seeder nobody
 * else names. torrent-rx can reach that seeder only by what the leecher tells it through ut_pex.
 */
import {mkdir, readFile} from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import {
	createTorrent,
	debugEvents,
	freePort,
	makePayload,
	runTorrentRx,
	startLibtorrentSeeder,
	tempDir,
} from '../helpers/swarm-fixture.js';

test('torrent-rx learns a seeder only through PEX, and downloads from it', async (t) => {
	t.timeout(90_000);
	const seedDir = await tempDir(t);
	const outputDir = await tempDir(t);
	const leecherDir = path.join(await tempDir(t), 'leecher');
	await mkdir(leecherDir);
	const payload = await makePayload(seedDir, {name: 'pex.bin', length: 4 * 1024 * 1024 + 5});
	// A tracker that does not exist: nobody finds anybody through it.
	const {torrentPath, infoHash} = await createTorrent(payload.path, 'http://127.0.0.1:9/announce', 64 * 1024);
	const seeder = await startLibtorrentSeeder(t, torrentPath, seedDir, {mode: 'seed-quietly'});
	// 20 kB/s: the leecher holds a few pieces at most while torrent-rx downloads.
	const leecher = await startLibtorrentSeeder(t, torrentPath, leecherDir, {
		mode: 'leech-slowly',
		extra: [String(seeder.port), '20000'],
	});

	const run = await runTorrentRx(
		t,
		[
			`magnet:?xt=urn:btih:${infoHash}&x.pe=127.0.0.1:${leecher.port}`,
			'--output',
			outputDir,
			'--port',
			String(await freePort()),
			'--no-metrics',
			'--debug',
		],
		{timeoutMs: 60_000},
	);
	t.is(run.code, 0, run.stderr.slice(-3000));
	const written = await readFile(path.join(outputDir, 'pex.bin'));
	t.true(written.equals(payload.files[0]?.data ?? Buffer.alloc(0)), 'byte-identical');
	const events = debugEvents(run.stderr);
	const seederKey = `127.0.0.1:${seeder.port}`;
	t.true(
		events.some(
			(event) =>
				event.type === 'peers-found' &&
				event.from === `127.0.0.1:${leecher.port}` &&
				(event.peers as Array<{port: number}>).some((peer) => peer.port === seeder.port),
		),
		'the leecher named the seeder',
	);
	t.true(
		events.some(
			(event) => event.type === 'peer-connecting' && event.peer === seederKey && event.source === 'pex',
		),
	);
	// libtorrent keeps one connection between two peers: the seeder, also told of us by the leecher,
	// may call us while we call it, and its connection is the one that stays. Either way, every
	// piece not from the leecher came from the seeder, which only PEX made known.
	const leecherKey = `127.0.0.1:${leecher.port}`;
	const verified = events.filter((event) => event.type === 'piece-verified');
	const fromLeecher = verified.filter((event) => event.peer === leecherKey).length;
	t.true(
		verified.length - fromLeecher > fromLeecher,
		`${fromLeecher} of ${verified.length} pieces came from the slow leecher`,
	);
});
