/**
 * Local service discovery (BEP 14): two torrent-rx runs on this machine, with no tracker and no
 * DHT, find each other by multicast on the local interfaces, loopback included.
 */
import dgram from 'node:dgram';
import {once} from 'node:events';
import {readFile} from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import {decodeLsdAnnounce, lsdGroup} from '../../source/codec/lsd.js';
import {
	createTorrent,
	debugEvents,
	freePort,
	killProcess,
	makePayload,
	spawnTorrentRx,
	type Teardown,
	tempDir,
} from '../helpers/swarm-fixture.js';

/**
 * Resolves once an announce of `infoHash` with `port` is heard on the LSD group through the
 * loopback interface; rejects after `timeoutMs`.
 */
async function heardAnnounce(t: Teardown, infoHash: string, port: number, timeoutMs: number): Promise<void> {
	const socket = dgram.createSocket({type: 'udp4', reuseAddr: true});
	t.teardown(() => socket.close());
	socket.bind(lsdGroup.port);
	await once(socket, 'listening');
	socket.addMembership(lsdGroup.host, '127.0.0.1');
	const heard = new Promise<void>((resolve) => {
		socket.on('message', (packet) => {
			const announce = decodeLsdAnnounce(packet);
			if (announce?.port === port && announce.infoHashes.includes(infoHash)) {
				resolve();
			}
		});
	});
	let timer: NodeJS.Timeout | undefined;
	const late = new Promise<never>((_resolve, reject) => {
		timer = setTimeout(
			() => reject(new Error(`no LSD announce from port ${port} within ${timeoutMs} ms`)),
			timeoutMs,
		);
	});
	try {
		await Promise.race([heard, late]);
	} finally {
		clearTimeout(timer);
	}
}

test('with --lsd a downloader finds a seeder on the local network by its announcement', async (t) => {
	t.timeout(60_000);
	const seedDir = await tempDir(t);
	const outputDir = await tempDir(t);
	const payload = await makePayload(seedDir, {name: 'lsd.bin', length: 2 * 1024 * 1024 + 3});
	// The tracker does not exist: the local network is the only way.
	const {torrentPath, infoHash} = await createTorrent(payload.path, 'http://127.0.0.1:9/announce', 64 * 1024);
	const common = ['--lsd', '--no-dht', '--no-metrics', '--no-history', '--debug'];
	// The downloader first, and the seeder only once the downloader has announced itself: it joins
	// the group before it announces, so it then hears the seeder's announce when the seeder starts
	// (the next ones come five minutes later, BEP 14).
	const downloaderPort = await freePort();
	const announced = heardAnnounce(t, infoHash, downloaderPort, 20_000);
	const downloader = spawnTorrentRx(
		t,
		[torrentPath, '--output', outputDir, '--port', String(downloaderPort), ...common],
		{timeoutMs: 45_000},
	);
	await announced;
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
