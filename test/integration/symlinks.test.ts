/**
 * BEP 47 links as libtorrent makes them (`create_torrent.symlinks`: a hybrid torrent whose links
 * carry their text as it stands on disk): `info` reads each target as libtorrent does, and
 * torrent-rx, downloading such a torrent from a libtorrent seeder, makes the links that stay in
 * the torrent's folder and skips, with a `link-skipped` event, the one that leads out of it. A
 * second run over the same folder finds everything in place, its resume file trusted.
 */
import {lstat, readFile, readlink, rm, symlink, writeFile} from 'node:fs/promises';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {assertSameFiles, downloadWithTorrentRx} from '../helpers/interop.js';
import {
	announceSeeder,
	createTorrentWith,
	freePort,
	libtorrentView,
	makePayload,
	runTorrentRx,
	startLibtorrentSeeder,
	startOpentracker,
	tempDir,
} from '../helpers/swarm-fixture.js';

const kib = 1024;

/** The links made in the payload, by where they are (below `linked/`), and their text. */
const links: Record<string, string> = {
	'to-a': 'a.bin',
	'sub/up': '../a.bin',
	'sub/beside': 'b.bin',
	out: '../outside.txt',
};

/** A payload with links in it, beside a file (`outside.txt`) that no link made from it may reach. */
async function linkedPayload(t: ExecutionContext) {
	const dir = await tempDir(t);
	const payload = await makePayload(dir, {
		name: 'linked',
		files: [
			{path: 'a.bin', length: 100_001},
			{path: 'sub/b.bin', length: 50_000},
		],
	});
	await writeFile(path.join(dir, 'outside.txt'), 'not the torrent’s\n');
	for (const [where, text] of Object.entries(links)) {
		await symlink(text, path.join(payload.path, where));
	}

	const trackerPort = await freePort();
	const torrentPath = path.join(dir, 'linked.torrent');
	const {infoHash, announcedHashes} = await createTorrentWith(payload.path, torrentPath, {
		pieceLength: 16 * kib,
		symlinks: true,
		trackers: [[`http://127.0.0.1:${trackerPort}/announce`]],
	});
	return {dir, payload, torrentPath, infoHash, announcedHashes, trackerPort};
}

test('info reads each link as libtorrent does; the one libtorrent refuses leads out of the folder', async (t) => {
	t.timeout(60_000);
	const {torrentPath} = await linkedPayload(t);
	const view = await libtorrentView(torrentPath);
	const run = await runTorrentRx(t, ['info', torrentPath, '--json'], {timeoutMs: 20_000});
	t.is(run.code, 0, run.stderr);
	const {files} = JSON.parse(run.stdout) as {files: Array<{path: string; size: number; symlink?: string}>};
	t.deepEqual(
		files.map(({path: where, size}) => ({path: where, size})),
		view.files.map(({path: where, size}) => ({path: where, size})),
	);
	const ours = new Map(files.map((file) => [file.path, file.symlink]));
	for (const file of view.files.filter((entry) => entry.symlink !== undefined)) {
		// libtorrent turns a target it refuses into the link itself.
		const expected = file.symlink === file.path ? 'linked/../outside.txt' : file.symlink;
		t.is(ours.get(file.path), expected, file.path);
	}

	t.is(view.files.filter((file) => file.symlink !== undefined).length, Object.keys(links).length);
});

test('from a libtorrent seeder: the links inside are made and lead right, the one out is skipped and logged; a second run finds all in place', async (t) => {
	t.timeout(150_000);
	const swarm = await linkedPayload(t);
	const tracker = await startOpentracker(t, swarm.announcedHashes, {port: swarm.trackerPort});
	// libtorrent makes a link whose target it refuses point to itself, and stops the torrent with
	// "File exists" when another link is at its place: the seeder makes its own.
	await rm(path.join(swarm.payload.path, 'out'));
	const seeder = await startLibtorrentSeeder(t, swarm.torrentPath, swarm.dir, {mode: 'seed-quietly'});
	await announceSeeder(tracker.url, swarm.infoHash, seeder.port);
	const downloadDir = await tempDir(t);
	const historyFile = path.join(await tempDir(t), 'history.log');
	const first = await downloadWithTorrentRx(t, {
		torrentPath: swarm.torrentPath,
		downloadDir,
		flags: ['--history', historyFile],
		timeoutMs: 60_000,
	});
	t.deepEqual(first.sources, [`127.0.0.1:${seeder.port}`]);
	await assertSameFiles(t, downloadDir, swarm.payload, 'torrent-rx', {exact: false});
	const at = (where: string) => path.join(downloadDir, 'linked', where);
	t.is(await readlink(at('to-a')), 'a.bin');
	t.is(await readlink(at('sub/up')), '../a.bin');
	t.is(await readlink(at('sub/beside')), 'b.bin');
	t.deepEqual(await readFile(at('sub/up')), await readFile(path.join(swarm.payload.path, 'a.bin')));
	await t.throwsAsync(lstat(at('out')), {code: 'ENOENT'});
	await t.throwsAsync(lstat(path.join(downloadDir, 'outside.txt')), {code: 'ENOENT'});

	const skipped = first.events.filter((event) => event.type === 'link-skipped');
	t.deepEqual(
		skipped.map(({path: where, target}) => ({path: where, target})),
		[{path: 'linked/out', target: 'linked/../outside.txt'}],
	);
	t.regex(String(skipped[0]?.reason), /outside the torrent's folder/);
	const logged = (await readFile(historyFile, 'utf8'))
		.split('\n')
		.filter(Boolean)
		.map((line) => JSON.parse(line) as {type: string; path?: string});
	t.true(logged.some((event) => event.type === 'link-skipped' && event.path === 'linked/out'));

	// Again over the same folder: the links are the same, the resume file is trusted (a link, a
	// pad file, stat'ed, would have failed its save), and nothing is fetched.
	const second = await downloadWithTorrentRx(t, {
		torrentPath: swarm.torrentPath,
		downloadDir,
		flags: ['--no-history'],
		timeoutMs: 60_000,
	});
	t.like(
		second.events.find((event) => event.type === 'checked'),
		{fromResumeFile: true},
	);
	t.deepEqual(second.sources, []);
	t.is(second.events.filter((event) => event.type === 'link-skipped').length, 1);
	t.is(await readlink(at('sub/up')), '../a.bin');
});
