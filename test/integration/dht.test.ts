/**
 * A magnet link with no tracker: torrent-rx finds the seeder, fetches the metadata and downloads
 * the payload through a DHT that lives on 127.0.0.1 alone: a bittorrent-dht node as the bootstrap,
 * and a libtorrent seeder that joined through it.
 */
import {readFile} from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import DHT from 'bittorrent-dht';
import {parseMetainfo} from '../../source/codec/metainfo.js';
import {
	createTorrent,
	debugEvents,
	freePort,
	makePayload,
	runTorrentRx,
	startLibtorrentSeeder,
	tempDir,
} from '../helpers/swarm-fixture.js';

test('a magnet link with no tracker downloads through a local DHT, and the routing table is kept', async (t) => {
	t.timeout(90_000);
	const bootstrap = new DHT({bootstrap: false});
	t.teardown(() => new Promise<void>((resolve) => bootstrap.destroy(() => resolve())));
	const bootstrapPort = await freePort();
	await new Promise<void>((resolve) => bootstrap.listen(bootstrapPort, '127.0.0.1', () => resolve()));

	const seedDir = await tempDir(t);
	const outputDir = await tempDir(t);
	const payload = await makePayload(seedDir, {name: 'dht.bin', length: 3 * 1024 * 1024 + 77});
	// The torrent's tracker does not exist: the DHT is the only way to the seeder.
	const {torrentPath, infoHash} = await createTorrent(payload.path, 'http://127.0.0.1:9/announce', 64 * 1024);
	const announced = new Promise<void>((resolve) => {
		bootstrap.on('announce', (_peer, hash) => {
			if (hash.toString('hex') === infoHash) {
				resolve();
			}
		});
	});
	await startLibtorrentSeeder(t, torrentPath, seedDir, {dhtBootstrapPort: bootstrapPort});
	await announced;

	const run = await runTorrentRx(
		t,
		[
			`magnet:?xt=urn:btih:${infoHash}&dn=dht.bin`,
			'--output',
			outputDir,
			'--port',
			String(await freePort()),
			'--dht-bootstrap',
			`127.0.0.1:${bootstrapPort}`,
			'--no-metrics',
			'--debug',
		],
		{timeoutMs: 60_000},
	);
	t.is(run.code, 0, run.stderr.slice(-3000));
	const written = await readFile(path.join(outputDir, 'dht.bin'));
	t.true(written.equals(payload.files[0]?.data ?? Buffer.alloc(0)), 'byte-identical');
	t.is(
		parseMetainfo(await readFile(path.join(outputDir, 'dht.bin.torrent'))).infoHash.toString('hex'),
		infoHash,
	);
	const events = debugEvents(run.stderr);
	t.true(events.some((event) => event.type === 'metadata-fetched'));
	t.true(
		events.some((event) => event.type === 'peer-connecting' && event.source === 'dht'),
		'the download phase found the seeder through the DHT',
	);
	const state = JSON.parse(await readFile(path.join(outputDir, '.torrent-rx', 'dht.json'), 'utf8')) as {
		nodes: Array<{host: string; port: number}>;
	};
	t.true(
		state.nodes.some((node) => node.host === '127.0.0.1' && node.port === bootstrapPort),
		`the routing table was saved: ${JSON.stringify(state.nodes)}`,
	);
});
