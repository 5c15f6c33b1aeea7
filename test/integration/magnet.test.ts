/**
 * Interop for magnet links: torrent-rx fetches a torrent's metadata (BEP 9 over BEP 10) from a
 * real libtorrent seeder, found through a real opentracker or named in the link, then downloads
 * it; and libtorrent fetches the metadata of a torrent that torrent-rx seeds. All on 127.0.0.1.
 */
import {readFile} from 'node:fs/promises';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {parseMetainfo} from '../../source/codec/metainfo.js';
import {
	createTorrent,
	type DebugEvent,
	debugEvents,
	freePort,
	listPayloadFiles,
	makePayload,
	type Payload,
	type PayloadSpec,
	type RunResult,
	runLibtorrentDownload,
	runTorrentRx,
	spawnTorrentRx,
	startLibtorrentSeeder,
	startSwarm,
	tempDir,
	trackedTorrent,
	waitForDebugEvent,
} from '../helpers/swarm-fixture.js';

const kib = 1024;

/**
 * A folder of a few files with 16 KiB pieces, about 14 MiB: some 870 piece hashes, so that the
 * info dictionary (about 17 KiB) takes two BEP 9 pieces, the second a short one.
 */
const album: PayloadSpec = {
	name: 'magnet album',
	files: [
		{path: 'cover.jpg', length: 100_001},
		{path: 'disc1/01.flac', length: 13 * 1024 * kib + 17},
		{path: 'disc1/02.flac', length: 1},
		{path: 'notes.txt', length: 777_777},
	],
};
const pieceLength = 16 * kib;

function describeRun(result: RunResult): string {
	return `exit ${result.code ?? result.signal}${result.timedOut ? ' (timed out)' : ''}\nstderr:\n${result.stderr.slice(-4000)}`;
}

/** The payload's files in `dir` are byte-identical to the originals; `extra` files may be there too. */
async function assertSameFiles(t: ExecutionContext, dir: string, payload: Payload, extra: string[] = []) {
	t.deepEqual(
		await listPayloadFiles(dir),
		[...payload.files.map((file) => file.relativePath), ...extra].sort(),
		'exactly the payload files (and the saved torrent)',
	);
	for (const file of payload.files) {
		const written = await readFile(path.join(dir, file.relativePath));
		t.is(written.length, file.length, `${file.relativePath} has the right size`);
		t.true(written.equals(file.data), `${file.relativePath} is byte-identical`);
	}
}

const magnetLink = (infoHash: string, parameters: Record<string, string>) =>
	`magnet:?xt=urn:btih:${infoHash}${Object.entries(parameters)
		.map(([key, value]) => `&${key}=${encodeURIComponent(value)}`)
		.join('')}`;

/**
 * Checks what a magnet download by torrent-rx must leave behind: exit 0, the files, the torrent
 * saved as `<name>.torrent` with the link's info hash and the original info dictionary, and the
 * metadata events; returns the debug events.
 */
async function assertMagnetDownload(
	t: ExecutionContext,
	run: RunResult,
	{
		outputDir,
		payload,
		torrentPath,
		infoHash,
		trackers,
	}: {outputDir: string; payload: Payload; torrentPath: string; infoHash: string; trackers: string[][]},
): Promise<DebugEvent[]> {
	t.false(run.timedOut, describeRun(run));
	t.is(run.code, 0, describeRun(run));
	const savedName = `${payload.name}.torrent`;
	await assertSameFiles(t, outputDir, payload, [savedName]);

	const saved = parseMetainfo(await readFile(path.join(outputDir, savedName)));
	const original = parseMetainfo(await readFile(torrentPath));
	t.is(saved.infoHash.toString('hex'), infoHash, 'the saved torrent has the link’s info hash');
	t.true(saved.infoBytes.equals(original.infoBytes), 'and the info dictionary byte for byte');
	t.deepEqual(saved.announceTiers, trackers);

	const events = debugEvents(run.stderr);
	const types = events.map((event) => event.type);
	t.like(
		events.find((event) => event.type === 'metadata-fetching'),
		{type: 'metadata-fetching', infoHash},
	);
	t.like(
		events.find((event) => event.type === 'metadata-fetched'),
		{
			type: 'metadata-fetched',
			name: payload.name,
			bytes: original.infoBytes.length,
			torrentFile: path.join(outputDir, savedName),
		},
	);
	t.true(types.indexOf('metadata-fetching') < types.indexOf('metadata-fetched'), types.join(' '));
	t.true(types.indexOf('metadata-fetched') < types.indexOf('completed'), 'the download comes after');
	const identified = events.filter((event) => event.type === 'peer-identified');
	t.log(`identified: ${[...new Set(identified.map((event) => String(event.client)))].join(', ')}`);
	t.true(
		identified.some((event) => /libtorrent/i.test(String(event.client))),
		`a libtorrent client string: ${JSON.stringify(identified)}`,
	);
	t.regex(run.stdout, new RegExp(`Downloaded ${payload.name}`));
	return events;
}

test('downloads a magnet link (xt, dn, tr) from a libtorrent seeder behind opentracker', async (t) => {
	t.timeout(90_000);
	const seedDir = await tempDir(t);
	const outputDir = await tempDir(t);
	const payload = await makePayload(seedDir, album);
	const {tracker, torrentPath, infoHash} = await startSwarm(t, payload, pieceLength);
	const metadataBytes = parseMetainfo(await readFile(torrentPath)).infoBytes.length;
	t.true(
		metadataBytes > 16 * kib && metadataBytes < 32 * kib,
		`the metadata (${metadataBytes} bytes) takes two BEP 9 pieces`,
	);

	const link = magnetLink(infoHash, {dn: payload.name, tr: tracker.url});
	const run = await runTorrentRx(
		t,
		[link, '--output', outputDir, '--debug', '--port', String(await freePort())],
		{
			timeoutMs: 60_000,
		},
	);
	const events = await assertMagnetDownload(t, run, {
		outputDir,
		payload,
		torrentPath,
		infoHash,
		trackers: [[tracker.url]],
	});
	t.like(
		events.find((event) => event.type === 'metadata-fetching'),
		{name: payload.name},
		'dn is shown',
	);
	t.true(
		events.some((event) => event.type === 'announce-answered'),
		'the tracker was asked',
	);
});

test('downloads a magnet link naming only a peer (x.pe), no tracker', async (t) => {
	t.timeout(90_000);
	const seedDir = await tempDir(t);
	const outputDir = await tempDir(t);
	const payload = await makePayload(seedDir, album);
	// The torrent names a tracker nobody runs: the seeder and torrent-rx must do without one.
	const {torrentPath, infoHash} = await createTorrent(
		payload.path,
		`http://127.0.0.1:${await freePort()}/announce`,
		pieceLength,
	);
	const seeder = await startLibtorrentSeeder(t, torrentPath, seedDir, {mode: 'seed-quietly'});

	const link = magnetLink(infoHash, {dn: payload.name, 'x.pe': `127.0.0.1:${seeder.port}`});
	const run = await runTorrentRx(
		t,
		[link, '--output', outputDir, '--debug', '--port', String(await freePort())],
		{
			timeoutMs: 60_000,
		},
	);
	const events = await assertMagnetDownload(t, run, {
		outputDir,
		payload,
		torrentPath,
		infoHash,
		trackers: [],
	});
	t.false(
		events.some((event) => event.type.startsWith('announce')),
		'no tracker was asked',
	);
	const sources = new Set(
		events.filter((event) => event.type === 'piece-verified').map((event) => String(event.peer)),
	);
	t.deepEqual([...sources], [`127.0.0.1:${seeder.port}`], 'every piece came from the peer the link names');
	// The metadata fetch's peer-connecting events carry no source; the download's do.
	t.like(
		events.find(
			(event) =>
				event.type === 'peer-connecting' && event.peer === `127.0.0.1:${seeder.port}` && 'source' in event,
		),
		{source: 'magnet'},
		'the download calls the peer as one from the link',
	);
});

test('libtorrent downloads a magnet link from a torrent-rx seeder: we serve the metadata', async (t) => {
	t.timeout(90_000);
	const seedDir = await tempDir(t);
	const payload = await makePayload(seedDir, album);
	const {tracker, torrentPath, infoHash} = await trackedTorrent(t, payload, pieceLength);
	const seeder = spawnTorrentRx(
		t,
		[torrentPath, '--output', seedDir, '--seed', '--port', String(await freePort()), '--debug'],
		{timeoutMs: 60_000},
	);
	await waitForDebugEvent(seeder, (event) => event.type === 'announce-answered', {timeoutMs: 20_000});
	t.true(
		debugEvents(seeder.stderr()).some((event) => event.type === 'seeding'),
		'seeding',
	);

	const downloadDir = await tempDir(t);
	const link = magnetLink(infoHash, {dn: payload.name, tr: tracker.url});
	const libtorrent = await runLibtorrentDownload(t, link, downloadDir, {timeoutMs: 40_000});
	t.false(libtorrent.timedOut, `libtorrent: ${describeRun(libtorrent)}`);
	t.is(
		libtorrent.code,
		0,
		`libtorrent: ${describeRun(libtorrent)}\nseeder:\n${seeder.stderr().slice(-3000)}`,
	);
	t.regex(libtorrent.stdout, /^done /m);
	t.log(`libtorrent: metadata and payload in ${libtorrent.seconds} s`);
	await assertSameFiles(t, downloadDir, payload);

	// Uploads are reported once a second and when the peer leaves: wait for that, not a moment longer.
	await waitForDebugEvent(seeder, (event) => event.type === 'uploaded', {timeoutMs: 5000}).catch(
		() => undefined,
	);
	const seederEvents = debugEvents(seeder.stderr());
	t.true(
		seederEvents.some(
			(event) => event.type === 'peer-identified' && /libtorrent/i.test(String(event.client)),
		),
		'libtorrent sent its extended handshake to the seeder',
	);
	t.true(
		seederEvents.some((event) => event.type === 'uploaded'),
		'the seeder uploaded the payload',
	);
	seeder.child.kill('SIGINT');
	const stopped = await seeder.result;
	t.true(stopped.code === 0 || stopped.code === 130, describeRun(stopped));
});

test('with the DHT off, a magnet link with neither a tracker nor a peer exits 2 with one clear line', async (t) => {
	t.timeout(30_000);
	const outputDir = await tempDir(t);
	const run = await runTorrentRx(
		t,
		[
			magnetLink('dd8255ecdc7ca55fb0bbf81323d87062db1f6d1c', {dn: 'nowhere'}),
			'--output',
			outputDir,
			'--no-dht',
		],
		{timeoutMs: 20_000},
	);
	t.is(run.code, 2, describeRun(run));
	t.regex(run.stderr, /^torrent-rx: .*magnet link names no tracker and no peer/);
	t.is(run.stderr.trim().split('\n').length, 1, run.stderr);
	t.false(run.stderr.includes('    at '), 'no stack trace');
	t.deepEqual(await listPayloadFiles(outputDir), [], 'nothing written');
});
