/**
 * Names from every system (issue 17): torrents whose names libtorrent would sanitise rather than
 * refuse (a `..`, a Windows path, a duplicate, a file where a folder is, a 300-byte name, bytes
 * that are not UTF-8, a name of `..`) are read by torrent-rx into exactly the paths python3-libtorrent
 * reads them into; and one of them downloads from a libtorrent seeder into those names.
 */
import {mkdir, readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {parseMetainfo} from '../../source/codec/metainfo.js';
import {buildTorrent} from '../faults/helpers/fault-fixture.js';
import {downloadWithTorrentRx} from '../helpers/interop.js';
import {
	freePort,
	libtorrentView,
	listPayloadFiles,
	startLibtorrentSeeder,
	startOpentracker,
	tempDir,
} from '../helpers/swarm-fixture.js';

const raw = (text: string) => Buffer.from(text, 'latin1');

/** Odd torrents, as a hand or another system may make them: names as raw bytes. */
const oddTorrents: Array<{title: string; name: Buffer; paths: Buffer[][]}> = [
	{
		title: 'climbing and dotted components',
		name: raw('set'),
		paths: [
			[raw('..'), raw('a.txt')],
			[raw('.'), raw('b.txt')],
			[raw(''), raw('c.txt')],
		],
	},
	{
		title: 'separators and controls inside names',
		name: raw('set'),
		paths: [[raw('dir\\sub\\d.txt')], [raw('x/y.txt')], [raw('n\0u\u0001l.txt')]],
	},
	{
		title: 'duplicates, in any case',
		name: raw('set'),
		paths: [[raw('same.txt')], [raw('same.txt')], [raw('SAME.txt')], [raw('x')], [raw('x'), raw('y')]],
	},
	{
		title: 'long names',
		name: raw('set'),
		paths: [
			[raw(`${'a'.repeat(300)}.mkv`)],
			[Buffer.from(`${'é'.repeat(200)}.mkv`)],
			[raw(`${'b'.repeat(237)}.mkv`)],
		],
	},
	{
		title: 'bytes that are not UTF-8, and bidi marks',
		name: raw('set'),
		paths: [[Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe, 0x2e, 0x74])], [Buffer.from('a\u202eb\u200e.txt')]],
	},
	{title: 'a name of `..`', name: raw('..'), paths: [[raw('a')]]},
	{title: 'an empty name and an empty path', name: raw(''), paths: [[raw('..'), raw('.')]]},
];

const kib = 1024;

function oddTorrent(spec: (typeof oddTorrents)[number], tracker = 'http://127.0.0.1:1/announce') {
	return buildTorrent({
		name: spec.name as unknown as string,
		pieceLength: 16 * kib,
		tiers: [[tracker]],
		files: spec.paths.map((components, index) => ({
			path: components as unknown as string[],
			data: Buffer.alloc(5000 + index * 777, index + 1),
		})),
	});
}

async function written(t: ExecutionContext, torrent: Buffer): Promise<string> {
	const file = path.join(await tempDir(t), 'odd.torrent');
	await writeFile(file, torrent);
	return file;
}

for (const spec of oddTorrents) {
	test(`odd names read as libtorrent reads them: ${spec.title}`, async (t) => {
		const torrentPath = await written(t, oddTorrent(spec));
		const ours = parseMetainfo(oddTorrent(spec)).files.map((file) => file.path.join('/'));
		const theirs = (await libtorrentView(torrentPath)).files.map((file) => file.path);
		t.deepEqual(ours, theirs);
	});
}

test('a torrent of odd names downloads from a libtorrent seeder into the names both read', async (t) => {
	t.timeout(90_000);
	const spec = oddTorrents[2];
	if (!spec) {
		throw new Error('no such odd torrent');
	}

	const trackerPort = await freePort();
	const torrent = oddTorrent(spec, `http://127.0.0.1:${trackerPort}/announce`);
	const torrentPath = await written(t, torrent);
	const metainfo = parseMetainfo(torrent);
	await startOpentracker(t, [metainfo.infoHash.toString('hex')], {port: trackerPort});
	// The seeder's copy, at the names libtorrent gives the files.
	const seedDir = await tempDir(t);
	const payload = spec.paths.map((_, index) => Buffer.alloc(5000 + index * 777, index + 1));
	for (const [index, file] of (await libtorrentView(torrentPath)).files.entries()) {
		await mkdir(path.dirname(path.join(seedDir, file.path)), {recursive: true});
		await writeFile(path.join(seedDir, file.path), payload[index] ?? Buffer.alloc(0));
	}

	await startLibtorrentSeeder(t, torrentPath, seedDir);
	const downloadDir = await tempDir(t);
	await downloadWithTorrentRx(t, {torrentPath, downloadDir, flags: ['--no-history'], timeoutMs: 60_000});
	const files = (await listPayloadFiles(downloadDir)).filter((file) => !file.startsWith('.torrent-rx'));
	t.deepEqual(files, metainfo.files.map((file) => file.path.join(path.sep)).sort());
	for (const [index, file] of metainfo.files.entries()) {
		const bytes = await readFile(path.join(downloadDir, ...file.path));
		t.true(bytes.equals(payload[index] ?? Buffer.alloc(0)), `${file.path.join('/')} is byte-identical`);
	}
});
