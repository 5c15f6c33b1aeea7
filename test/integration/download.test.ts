/**
 * Interop: torrent-rx downloads from a real libtorrent seeder found through a real opentracker,
 * all on 127.0.0.1, and the files it writes must be byte-identical to the seeder's.
 */
import {readFile} from 'node:fs/promises';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {parseMetainfo} from '../../source/codec/metainfo.js';
import {
	createTorrent,
	debugEvents,
	freePort,
	libtorrentInfoHash,
	listPayloadFiles,
	makePayload,
	type Payload,
	type PayloadSpec,
	runTorrentRx,
	spawnTorrentRx,
	startAria2Seeder,
	startOpentracker,
	startSwarm,
	tempDir,
	trackedTorrent,
} from '../helpers/swarm-fixture.js';

const kib = 1024;
const mib = 1024 * kib;

async function assertSameFiles(t: ExecutionContext, outputDir: string, payload: Payload) {
	t.deepEqual(
		(await listPayloadFiles(outputDir)).filter(
			(file) => !file.startsWith(`.torrent-rx${path.sep}`) && file !== 'history.log',
		),
		payload.files.map((file) => file.relativePath).sort(),
		'torrent-rx wrote exactly the payload files',
	);
	for (const file of payload.files) {
		const written = await readFile(path.join(outputDir, file.relativePath));
		t.is(written.length, file.length, `${file.relativePath} has the right size`);
		// Not t.deepEqual: a diff of megabytes helps nobody.
		t.true(written.equals(file.data), `${file.relativePath} is byte-identical to the seeder's`);
	}
}

/** Seeds `spec` with libtorrent behind opentracker and downloads it with torrent-rx. */
async function downloadFromLibtorrent(t: ExecutionContext, spec: PayloadSpec, pieceLength: number) {
	t.timeout(90_000);
	const seedDir = await tempDir(t);
	const outputDir = await tempDir(t);
	const payload = await makePayload(seedDir, spec);
	const {torrentPath, infoHash} = await startSwarm(t, payload, pieceLength);

	const run = await runTorrentRx(
		t,
		[torrentPath, '--output', outputDir, '--debug', '--port', String(await freePort())],
		{timeoutMs: 60_000},
	);
	const context = `exit ${run.code ?? run.signal}${run.timedOut ? ' (timed out)' : ''}\nstderr:\n${run.stderr.slice(-4000)}`;
	t.false(run.timedOut, context);
	t.is(run.code, 0, context);

	const events = debugEvents(run.stderr);
	const started = events.find((event) => event.type === 'started');
	t.is(started?.infoHash, infoHash, 'torrent-rx and libtorrent agree on the info hash');
	t.true(
		events.some((event) => event.type === 'completed'),
		'a completed event was printed',
	);
	t.regex(run.stdout, new RegExp(`Downloaded ${payload.name}`));
	await assertSameFiles(t, outputDir, payload);
	return {torrentPath};
}

test('downloads a single file with a short last piece from a libtorrent seeder', async (t) => {
	const pieceLength = 256 * kib;
	const length = 3 * mib + 11;
	const {torrentPath} = await downloadFromLibtorrent(t, {name: 'single.bin', length}, pieceLength);

	const metainfo = parseMetainfo(await readFile(torrentPath));
	t.is(metainfo.pieceHashes.count, 13, 'twelve full pieces and one of 11 bytes');
	t.is(metainfo.totalLength % pieceLength, 11);
});

test('downloads nested folders, an empty file and pieces spanning files from a libtorrent seeder', async (t) => {
	const pieceLength = 64 * kib;
	const {torrentPath} = await downloadFromLibtorrent(
		t,
		{
			name: 'tree',
			files: [
				{path: 'README', length: 1000},
				{path: 'docs/a.txt', length: 5000},
				{path: 'docs/empty', length: 0},
				{path: 'docs/deep/nested/b.bin', length: 20_000},
				{path: 'docs/deep/nested/c.bin', length: 70_001},
				{path: 'media/big.bin', length: 3 * pieceLength + 12_345},
				{path: 'media/tiny', length: 1},
				{path: 'z/last.bin', length: 7},
			],
		},
		pieceLength,
	);

	// Guard the fixture itself: the cases this test exists for must be in libtorrent's torrent.
	const metainfo = parseMetainfo(await readFile(torrentPath));
	t.true(metainfo.multiFile);
	t.true(
		metainfo.files.some((file) => file.length === 0),
		'the torrent lists the zero-length file',
	);
	t.true(
		metainfo.files.some((file) => file.length > pieceLength),
		'a file is larger than a piece',
	);
	const filesPerPiece = Array.from({length: metainfo.pieceHashes.count}, (_, index) => {
		const start = index * pieceLength;
		const end = Math.min(start + pieceLength, metainfo.totalLength);
		return metainfo.files.filter(
			(file) => file.length > 0 && file.offset < end && file.offset + file.length > start,
		).length;
	});
	t.true(
		filesPerPiece.some((count) => count >= 3),
		`a piece spans several files (files per piece: ${filesPerPiece.join(',')})`,
	);
	t.true(
		metainfo.files.every((file) => !file.path.some((component) => component.startsWith('.pad'))),
		'v1 only: no padding files',
	);
});

test('waits for peers when the tracker knows no seeder, and stops on SIGINT with exit code 130', async (t) => {
	t.timeout(60_000);
	const dir = await tempDir(t);
	const outputDir = await tempDir(t);
	const payload = await makePayload(dir, {name: 'lonely.bin', length: 100_000});
	const trackerPort = await freePort();
	const {torrentPath, infoHash} = await createTorrent(
		payload.path,
		`http://127.0.0.1:${trackerPort}/announce`,
		16 * kib,
	);
	t.is(await libtorrentInfoHash(torrentPath), infoHash);
	await startOpentracker(t, [infoHash], {port: trackerPort});

	const run = spawnTorrentRx(
		t,
		[torrentPath, '-o', outputDir, '--debug', '--port', String(await freePort())],
		{timeoutMs: 45_000},
	);
	let exited = false;
	void run.result.then(() => {
		exited = true;
	});

	// Wait for the tracker's answer (with no seeder in it), then give the client time to misbehave.
	const deadline = Date.now() + 20_000;
	while (!exited && !debugEvents(run.stderr()).some((event) => event.type === 'announce-answered')) {
		if (Date.now() > deadline) {
			t.fail(`no announce answered within 20 s; stderr:\n${run.stderr()}`);
			return;
		}

		await new Promise((resolve) => setTimeout(resolve, 100));
	}

	await new Promise((resolve) => setTimeout(resolve, 1500));
	t.false(exited, `still waiting for peers, not crashed; stderr:\n${run.stderr()}`);
	t.false(debugEvents(run.stderr()).some((event) => event.type === 'completed'));

	const interruptedAt = Date.now();
	run.child.kill('SIGINT');
	const result = await run.result;
	const elapsedMs = Date.now() - interruptedAt;
	t.false(result.timedOut);
	t.is(result.code, 130, `exit ${result.code ?? result.signal}; stderr:\n${result.stderr}`);
	t.true(elapsedMs < 3000, `exited ${elapsedMs} ms after SIGINT`);
	t.regex(result.stderr, /torrent-rx: stopping/);
	t.false(result.stderr.includes('    at '), 'no stack trace');
});

test('downloads from an aria2c seeder', async (t) => {
	t.timeout(90_000);
	const seedDir = await tempDir(t);
	const outputDir = await tempDir(t);
	const payload = await makePayload(seedDir, {name: 'from-aria2.bin', length: 2 * mib + 5});
	const {tracker, torrentPath, infoHash} = await trackedTorrent(t, payload, 64 * kib);
	await startAria2Seeder(t, {torrentPath, saveDir: seedDir, trackerUrl: tracker.url, infoHash});

	const run = await runTorrentRx(
		t,
		[torrentPath, '--output', outputDir, '--debug', '--port', String(await freePort()), '--no-metrics'],
		{timeoutMs: 60_000},
	);
	t.is(run.code, 0, run.stderr.slice(-4000));
	const events = debugEvents(run.stderr);
	const connected = events.find((event) => event.type === 'peer-connected');
	t.regex(String(connected?.peerId), /^A2-1-/, 'the pieces came from aria2c');
	await assertSameFiles(t, outputDir, payload);
});
