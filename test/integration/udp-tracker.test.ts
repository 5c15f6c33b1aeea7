/**
 * Interop over BEP 15: torrent-rx and its UDP tracker client against Debian's opentracker, which
 * answers UDP on the same port as HTTP. A libtorrent seeder registers over HTTP; torrent-rx
 * finds it over UDP, through nothing but a `udp://` tracker URL.
 */
import {randomBytes} from 'node:crypto';
import {readFile, writeFile} from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import {firstValueFrom} from 'rxjs';
import {rawDictionaryValue} from '../../source/codec/bencode.js';
import {parseMetainfo} from '../../source/codec/metainfo.js';
import {createUdpTrackerClient} from '../../source/tracker/udp.js';
import {
	debugEvents,
	freePort,
	libtorrentInfoHash,
	listPayloadFiles,
	makePayload,
	runTorrentRx,
	startLibtorrentSeeder,
	tempDir,
	trackedTorrent,
} from '../helpers/swarm-fixture.js';
import {startUdpDropProxy} from '../helpers/udp-drop-proxy.js';

const kib = 1024;

/**
 * The torrent at `torrentPath` with `trackerUrl` as its only tracker: its `info` dictionary is
 * copied byte for byte, so the info hash stays the same.
 */
async function withOnlyTracker(torrentPath: string, trackerUrl: string, outputPath: string): Promise<void> {
	const info = rawDictionaryValue(await readFile(torrentPath), 'info');
	if (!info) {
		throw new Error(`${torrentPath} has no info dictionary`);
	}

	const url = Buffer.from(trackerUrl);
	await writeFile(
		outputPath,
		Buffer.concat([
			Buffer.from(`d8:announce${url.length}:`),
			url,
			Buffer.from('4:info'),
			Buffer.from(info),
			Buffer.from('e'),
		]),
	);
}

/** A note for the failure message when nothing listens on the seeder's port any more. */
function seederGoneNote(port: number): Promise<string> {
	return new Promise((resolve) => {
		const socket = net.connect({host: '127.0.0.1', port});
		socket.once('connect', () => {
			socket.destroy();
			resolve('');
		});
		socket.once('error', (error) => {
			resolve(
				`\nthe libtorrent seeder on port ${port} is gone (${error.message}): it died, not torrent-rx's doing`,
			);
		});
	});
}

test('downloads from a libtorrent seeder found through opentracker over UDP only', async (t) => {
	t.timeout(90_000);
	const seedDir = await tempDir(t);
	const outputDir = await tempDir(t);
	const torrentDir = await tempDir(t);
	const pieceLength = 64 * kib;
	const payload = await makePayload(seedDir, {
		name: 'over-udp',
		files: [
			{path: 'a.bin', length: 700_001},
			{path: 'sub/b.bin', length: 3 * pieceLength + 5},
			{path: 'sub/empty', length: 0},
		],
	});
	// The seeder's torrent names the tracker's http:// URL; opentracker keeps one swarm for both.
	const {tracker, torrentPath, infoHash} = await trackedTorrent(t, payload, pieceLength);
	const seeder = await startLibtorrentSeeder(t, torrentPath, seedDir);

	const udpUrl = `udp://127.0.0.1:${tracker.port}/announce`;
	const udpTorrentPath = path.join(torrentDir, 'over-udp.torrent');
	await withOnlyTracker(torrentPath, udpUrl, udpTorrentPath);
	const metainfo = parseMetainfo(await readFile(udpTorrentPath));
	t.deepEqual(metainfo.announceTiers, [[udpUrl]], 'the udp:// URL is the only tracker');
	t.is(metainfo.infoHash.toString('hex'), infoHash, 'the same info hash as the seeder’s torrent');
	t.is(await libtorrentInfoHash(udpTorrentPath), infoHash, 'libtorrent agrees');

	const run = await runTorrentRx(
		t,
		[udpTorrentPath, '--output', outputDir, '--debug', '--port', String(await freePort())],
		{timeoutMs: 60_000},
	);
	// libtorrent's Python binding has been seen to segfault under load: say so when the seeder is gone.
	const seederGone = run.code === 0 ? '' : await seederGoneNote(seeder.port);
	const context = `exit ${run.code ?? run.signal}${run.timedOut ? ' (timed out)' : ''}${seederGone}\nstderr:\n${run.stderr.slice(-4000)}`;
	t.false(run.timedOut, context);
	t.is(run.code, 0, context);

	const events = debugEvents(run.stderr);
	t.is(events.find((event) => event.type === 'started')?.infoHash, infoHash);
	const answered = events.filter((event) => event.type === 'announce-answered');
	t.true(answered.length > 0, `an announce was answered\n${context}`);
	t.true(
		answered.every((event) => event.tracker === udpUrl),
		'every answer came from the udp:// tracker',
	);
	t.true(
		answered.some((event) =>
			(event.peers as Array<{host: string; port: number}>).some(
				(peer) => peer.host === '127.0.0.1' && peer.port === seeder.port,
			),
		),
		'opentracker listed the libtorrent seeder over UDP',
	);
	t.false(
		events.some((event) => event.type === 'announce-failed'),
		'no announce failed',
	);
	t.true(events.some((event) => event.type === 'completed'));

	t.deepEqual(await listPayloadFiles(outputDir), payload.files.map((file) => file.relativePath).sort());
	for (const file of payload.files) {
		const written = await readFile(path.join(outputDir, file.relativePath));
		t.is(written.length, file.length, `${file.relativePath} has the right size`);
		t.true(written.equals(file.data), `${file.relativePath} is byte-identical to the seeder's`);
	}
});

test('through a proxy that drops the first two datagrams, the client retransmits and reaches opentracker', async (t) => {
	t.timeout(60_000);
	const seedDir = await tempDir(t);
	const payload = await makePayload(seedDir, {name: 'lossy.bin', length: 200_000});
	const {tracker, torrentPath, infoHash} = await trackedTorrent(t, payload, 16 * kib);
	const seeder = await startLibtorrentSeeder(t, torrentPath, seedDir);
	const proxy = await startUdpDropProxy(t, {upstreamPort: tracker.port, drop: 2});

	const client = createUdpTrackerClient({
		baseMs: 200,
		maxRetransmits: 3,
		connectionIdTtlMs: 60_000,
		idleMs: 300,
	});
	// The client has no close(): its unref'd socket closes itself after idleMs.
	t.teardown(() => new Promise((resolve) => setTimeout(resolve, 350)));
	const response = await firstValueFrom(
		client.announce(`udp://127.0.0.1:${proxy.port}/announce`, {
			infoHash: Buffer.from(infoHash, 'hex'),
			peerId: Buffer.concat([Buffer.from('-RX0001-'), randomBytes(12)]),
			port: await freePort(),
			uploaded: 0,
			downloaded: 0,
			left: payload.files[0]?.length ?? 1,
			event: 'started',
			numwant: 50,
		}),
	);
	t.log(
		proxy.log
			.map((entry) =>
				entry.direction === 'from-client'
					? `client ${entry.size} B${entry.dropped ? ' (dropped)' : ''}`
					: `tracker ${entry.size} B`,
			)
			.join(', '),
	);
	t.true(
		response.peers.some((peer) => peer.host === '127.0.0.1' && peer.port === seeder.port),
		`the seeder ${seeder.port} is among ${JSON.stringify(response.peers)}`,
	);
	t.true(response.interval > 0);
	t.true((response.seeders ?? 0) >= 1, `seeders: ${response.seeders}`);

	const firstReply = proxy.log.findIndex((entry) => entry.direction === 'from-upstream');
	const beforeReply = proxy.log.slice(0, firstReply).filter((entry) => entry.direction === 'from-client');
	t.true(firstReply > 0, 'opentracker answered through the proxy');
	t.true(beforeReply.length >= 3, `${beforeReply.length} client datagrams before the first reply`);
	t.deepEqual(
		beforeReply.slice(0, 3).map((entry) => [entry.size, entry.dropped]),
		[
			[16, true],
			[16, true],
			[16, false],
		],
		'the connect request, sent three times: twice dropped, the third passed on',
	);
	t.true(
		proxy.log.some((entry) => entry.direction === 'from-client' && entry.size === 98 && !entry.dropped),
		'then the 98-byte announce went through',
	);
});

test('a UDP scrape of opentracker counts the seeder, for each torrent asked, in order', async (t) => {
	t.timeout(60_000);
	const seedDir = await tempDir(t);
	const payload = await makePayload(seedDir, {name: 'scraped.bin', length: 100_000});
	const {tracker, torrentPath, infoHash} = await trackedTorrent(t, payload, 16 * kib);
	await startLibtorrentSeeder(t, torrentPath, seedDir);
	const client = createUdpTrackerClient({
		baseMs: 500,
		maxRetransmits: 2,
		connectionIdTtlMs: 60_000,
		idleMs: 300,
	});
	t.teardown(() => new Promise((resolve) => setTimeout(resolve, 350)));
	const url = `udp://127.0.0.1:${tracker.port}/announce`;
	// The torrent opentracker serves, and one it has never heard of.
	const counts = await firstValueFrom(
		client.scrape(url, [Buffer.from(infoHash, 'hex'), Buffer.alloc(20, 7)]),
	);
	t.is(counts.length, 2);
	t.is(counts[0]?.seeders, 1, JSON.stringify(counts));
	t.is(counts[0]?.leechers, 0);
	t.is(counts[1]?.seeders, 0);
	await t.throwsAsync(firstValueFrom(client.scrape(url, [])), {message: /1 to 74 torrents, not 0/});
});
