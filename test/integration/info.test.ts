/**
 * `torrent-rx info` against torrents libtorrent made: every field it prints (as JSON) equal to
 * what libtorrent itself reads in the same file, pad files left out.
 */
import {writeFile} from 'node:fs/promises';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {
	createTorrentWith,
	libtorrentView,
	makePayload,
	runTorrentRx,
	type TorrentOptions,
	tempDir,
} from '../helpers/swarm-fixture.js';

const kib = 1024;

/** libtorrent's view, put the way `info --json` says it. */
async function expectedSummary(torrentPath: string) {
	const view = await libtorrentView(torrentPath);
	const tiers: string[][] = [];
	for (const {url, tier} of view.trackers) {
		tiers[tier] = [...(tiers[tier] ?? []), url];
	}

	return {
		name: view.name,
		infoHash: view.infoHash,
		...(view.infoHashV2 ? {infoHashV2: view.infoHashV2} : {}),
		totalSize: view.totalSize,
		pieceLength: view.pieceLength,
		pieceCount: view.pieceCount,
		private: view.private,
		trackers: tiers.filter(Boolean).map(sortedTier),
		webSeeds: view.webSeeds,
		creationDate: new Date(view.creationDate * 1000).toISOString(),
		createdBy: view.createdBy,
		...(view.comment ? {comment: view.comment} : {}),
		files: view.files.map((file, index) => ({index: index + 1, size: file.size, path: file.path})),
		padFiles: view.padFiles,
	};
}

/** libtorrent shuffles the trackers of a tier as it loads a torrent (BEP 12): compare tiers as sets. */
const sortedTier = (tier: string[]) => [...tier].sort();

async function infoJson(t: ExecutionContext, torrentPath: string) {
	const run = await runTorrentRx(t, ['info', torrentPath, '--json'], {timeoutMs: 20_000});
	t.is(run.code, 0, run.stderr);
	const summary = JSON.parse(run.stdout) as {trackers: string[][]};
	return {...summary, trackers: summary.trackers.map(sortedTier)};
}

async function madeBy(t: ExecutionContext, options: TorrentOptions, multiFile = true) {
	t.timeout(60_000);
	const dir = await tempDir(t);
	const payload = await makePayload(
		dir,
		multiFile
			? {
					name: 'album',
					files: [
						{path: 'cover.jpg', length: 300_001},
						{path: 'disc1/01.flac', length: 2 * 1024 * kib + 12_345},
						{path: 'disc1/02.flac', length: 1},
						{path: 'notes.txt', length: 77_777},
					],
				}
			: {name: 'single.iso', length: 1024 * kib + 3},
	);
	const torrentPath = path.join(dir, 'made.torrent');
	await createTorrentWith(payload.path, torrentPath, options);
	return torrentPath;
}

test('a hybrid torrent with pad files, tiers of trackers, a web seed and a comment, as libtorrent reads it', async (t) => {
	const torrentPath = await madeBy(t, {
		pieceLength: 64 * kib,
		trackers: [['http://a.example/announce', 'http://b.example/announce'], ['udp://c.example:6969']],
		webSeeds: ['http://seed.example/files/'],
		comment: 'made by the test',
	});
	const summary = await infoJson(t, torrentPath);
	const expected = await expectedSummary(torrentPath);
	t.true(expected.padFiles > 0, 'libtorrent’s defaults gave it pad files');
	t.truthy(expected.infoHashV2, 'and a v2 hash');
	t.deepEqual(summary, expected);
});

test('a v1-only single-file private torrent, as libtorrent reads it', async (t) => {
	const torrentPath = await madeBy(
		t,
		{pieceLength: 256 * kib, v1Only: true, private: true, trackers: [['http://t.example/announce']]},
		false,
	);
	t.deepEqual(await infoJson(t, torrentPath), await expectedSummary(torrentPath));
});

test('the text names the v2 hash, the pad files left out, the tiers and each file by its index', async (t) => {
	const torrentPath = await madeBy(t, {pieceLength: 64 * kib, trackers: [['http://a.example/announce']]});
	const run = await runTorrentRx(t, ['info', torrentPath], {timeoutMs: 20_000});
	t.is(run.code, 0, run.stderr);
	t.regex(run.stdout, /^Name: album\nInfo hash: [\da-f]{40}\nInfo hash \(v2\): [\da-f]{64}\n/);
	t.regex(run.stdout, /\nSize: 2\.5 MB \(2,487,276 bytes\) in 4 files \(and \d+ pad files, left out\)\n/);
	t.regex(run.stdout, /\nTrackers:\n {2}tier 1: http:\/\/a\.example\/announce\n/);
	t.regex(
		run.stdout,
		/\nFiles:\n {2}1 {4}300,001 {2}album\/cover\.jpg\n {2}2 {2}2,109,497 {2}album\/disc1\/01\.flac\n/,
	);
});

test('a file that is not a torrent: one line and exit 2', async (t) => {
	const file = path.join(await tempDir(t), 'not.torrent');
	await writeFile(file, 'not bencode');
	const run = await runTorrentRx(t, ['info', file], {timeoutMs: 20_000});
	t.is(run.code, 2);
	t.regex(run.stderr, /^torrent-rx: .*not\.torrent: malformed bencode/);
	t.is(run.stderr.trim().split('\n').length, 1);
	t.is(run.stdout, '');
});
