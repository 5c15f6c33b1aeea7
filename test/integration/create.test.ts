/**
 * `torrent-rx create` against libtorrent: the .torrent it writes must load in libtorrent with
 * the same info hash, and describe the payload as libtorrent sees it.
 */
import {readFile} from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import {parseMetainfo} from '../../source/codec/metainfo.js';
import {
	libtorrentInfoHash,
	libtorrentView,
	makePayload,
	runTorrentRx,
	tempDir,
} from '../helpers/swarm-fixture.js';

test('a folder torrent made by torrent-rx has the info hash libtorrent computes', async (t) => {
	t.timeout(60_000);
	const dir = await tempDir(t);
	const payload = await makePayload(dir, {
		name: 'album',
		files: [
			{path: 'b/second.flac', length: 70_000},
			{path: 'a.txt', length: 1234},
			{path: 'b/empty', length: 0},
			{path: 'c/deep/third.bin', length: 200_001},
		],
	});
	const torrentPath = path.join(dir, 'album.torrent');
	const result = await runTorrentRx(
		t,
		[
			'create',
			payload.path,
			'-o',
			torrentPath,
			'--tracker',
			'http://127.0.0.1:1/announce',
			'--tracker',
			'http://127.0.0.2:1/announce',
			'--piece-length',
			'32768',
			'--private',
			'--comment',
			'made in a test',
		],
		{timeoutMs: 30_000},
	);
	t.is(result.code, 0, result.stderr);
	t.is(result.stdout.trim(), torrentPath);
	const metainfo = parseMetainfo(await readFile(torrentPath));
	t.is(metainfo.infoHash.toString('hex'), await libtorrentInfoHash(torrentPath));
	t.deepEqual(
		metainfo.files.map((file) => [file.path.join('/'), file.length]),
		[
			['album/a.txt', 1234],
			['album/b/empty', 0],
			['album/b/second.flac', 70_000],
			['album/c/deep/third.bin', 200_001],
		],
		'files in byte-wise path order',
	);
	t.is(metainfo.pieceLength, 32_768);
	t.true(metainfo.private);
	t.is(metainfo.comment, 'made in a test');
	t.deepEqual(metainfo.announceTiers, [['http://127.0.0.1:1/announce'], ['http://127.0.0.2:1/announce']]);
});

test('the same payload always gives the same info hash, and a single file makes a single-file torrent', async (t) => {
	t.timeout(60_000);
	const dir = await tempDir(t);
	const payload = await makePayload(dir, {name: 'one.iso', length: 3 * 1024 * 1024 + 5});
	const hashes: string[] = [];
	for (const name of ['first.torrent', 'second.torrent']) {
		const torrentPath = path.join(dir, name);
		const result = await runTorrentRx(t, ['create', payload.path, '-o', torrentPath], {timeoutMs: 30_000});
		t.is(result.code, 0, result.stderr);
		const metainfo = parseMetainfo(await readFile(torrentPath));
		t.false(metainfo.multiFile);
		t.is(metainfo.totalLength, 3 * 1024 * 1024 + 5);
		// 3 MiB aims at no more than 2,000 pieces from 16 KiB up: 16 KiB gives 193.
		t.is(metainfo.pieceLength, 16 * 1024);
		hashes.push(metainfo.infoHash.toString('hex'));
	}

	t.is(hashes[0], hashes[1]);
	t.is(hashes[0], await libtorrentInfoHash(path.join(dir, 'first.torrent')));
});

test('create refuses a piece length that is not a power of two, and a missing path', async (t) => {
	t.timeout(30_000);
	const dir = await tempDir(t);
	const payload = await makePayload(dir, {name: 'x.bin', length: 100});
	const bad = await runTorrentRx(t, ['create', payload.path, '--piece-length', '30000'], {timeoutMs: 20_000});
	t.is(bad.code, 2);
	t.regex(bad.stderr, /^torrent-rx: --piece-length must be a power of two/);
	const missing = await runTorrentRx(t, ['create', path.join(dir, 'nope')], {timeoutMs: 20_000});
	t.is(missing.code, 1);
	t.regex(missing.stderr, /^torrent-rx: cannot read .*nope/);
});

test('--web-seed writes a url-list that libtorrent reads, one as a string, several as a list; info lists them', async (t) => {
	t.timeout(90_000);
	const dir = await tempDir(t);
	const payload = await makePayload(dir, {name: 'mirror', files: [{path: 'a.bin', length: 40_000}]});
	const seeds = ['http://127.0.0.1:1/pub/', 'https://mirror.example/files/?token=a%2Fb'];
	const cases = [
		{name: 'one.torrent', seeds: seeds.slice(0, 1), prefix: '8:url-list23:'},
		{name: 'two.torrent', seeds, prefix: '8:url-listl23:'},
	];
	for (const {name, seeds: given, prefix} of cases) {
		const torrentPath = path.join(dir, name);
		const flags = given.flatMap((url) => ['--web-seed', url]);
		const result = await runTorrentRx(t, ['create', payload.path, '-o', torrentPath, ...flags], {
			timeoutMs: 30_000,
		});
		t.is(result.code, 0, result.stderr);
		const bytes = await readFile(torrentPath);
		t.true(bytes.includes(prefix), `${name} has ${prefix}`);
		t.deepEqual((await libtorrentView(torrentPath)).webSeeds, given, `libtorrent reads ${name}'s web seeds`);
		const info = await runTorrentRx(t, ['info', torrentPath, '--json'], {timeoutMs: 20_000});
		t.is(info.code, 0, info.stderr);
		t.deepEqual(JSON.parse(info.stdout).webSeeds, given);
		const text = await runTorrentRx(t, ['info', torrentPath], {timeoutMs: 20_000});
		t.true(text.stdout.includes(`\nWeb seeds:\n${given.map((url) => `  ${url}\n`).join('')}`), text.stdout);
	}
});

test('--web-seed takes only http and https URLs: anything else is one line and exit 2', async (t) => {
	t.timeout(30_000);
	const dir = await tempDir(t);
	const payload = await makePayload(dir, {name: 'x.bin', length: 100});
	const torrentPath = path.join(dir, 'x.torrent');
	const bad = await runTorrentRx(
		t,
		[
			'create',
			payload.path,
			'-o',
			torrentPath,
			'--web-seed',
			'http://ok.example/',
			'--web-seed',
			'ftp://m.example/',
		],
		{timeoutMs: 20_000},
	);
	t.is(bad.code, 2);
	t.is(bad.stderr, 'torrent-rx: --web-seed takes an http or https URL, not "ftp://m.example/"\n');
	await t.throwsAsync(readFile(torrentPath), {code: 'ENOENT'}, 'no torrent written');
});
