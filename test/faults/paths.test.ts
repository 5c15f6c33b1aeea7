/**
 * Issue 7, path faults: a torrent must never make torrent-rx write outside the output folder,
 * whether through names that climb out (`..`, absolute paths, separators smuggled into one
 * component) or through symbolic links already in the output folder; and files in the output
 * folder that are not the torrent's are never touched, while the torrent's own files, when they
 * are already there, are checked and used.
 */
import {lstat, mkdir, readdir, readFile, stat, symlink, writeFile} from 'node:fs/promises';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {parseMetainfo} from '../../source/codec/metainfo.js';
import {
	freePort,
	killProcess,
	runTorrentRx,
	spawnTorrentRx,
	tempDir,
	waitForDebugEvent,
} from '../helpers/swarm-fixture.js';
import {
	assertSameFiles,
	buildTorrent,
	describeRun,
	eventsOfType,
	kib,
	makeFixture,
	plainLines,
	startFakeTracker,
	startSeeder,
} from './helpers/fault-fixture.js';

const pieceLength = 16 * kib;

/** Runs torrent-rx on `torrentPath` into `outputDir` until it ends by itself (or 20 s). */
async function runInto(t: ExecutionContext, torrentPath: string, outputDir: string, extra: string[] = []) {
	return runTorrentRx(
		t,
		[
			torrentPath,
			'-o',
			outputDir,
			'--no-metrics',
			'--no-history',
			'--port',
			String(await freePort()),
			...extra,
		],
		{timeoutMs: 20_000},
	);
}

/** The `torrent-rx: …` lines of stderr. */
function messageLines(stderr: string): string[] {
	return plainLines(stderr).filter((line) => line.startsWith('torrent-rx:'));
}

/** Every entry below `dir` (relative paths, sorted), links included but not followed. */
async function listAll(dir: string): Promise<string[]> {
	return (await readdir(dir, {recursive: true})).sort();
}

/** A hand-made multi-file torrent whose file paths are `paths` (as the torrent lists them). */
async function hostileTorrent(
	t: ExecutionContext,
	{name = 'hostile', paths}: {name?: string; paths: string[][]},
): Promise<string> {
	const dir = await tempDir(t, 'torrent-rx-fault-torrent-');
	const torrentPath = path.join(dir, 'hostile.torrent');
	await writeFile(
		torrentPath,
		buildTorrent({
			name,
			pieceLength,
			// Nothing listens here: the torrent must be refused before any announce.
			tiers: [[`http://127.0.0.1:${await freePort()}/announce`]],
			files: paths.map((components, index) => ({path: components, data: Buffer.alloc(1000 + index, index)})),
		}),
	);
	return torrentPath;
}

/** Names that would leave the output folder, as a hand-made torrent may list them. */
const escapingNames: Array<{title: string; name?: string; paths: string[][]; viaCli?: boolean}> = [
	{title: 'a `..` component', paths: [['ok.txt'], ['..', 'escaped.txt']], viaCli: true},
	{title: 'an absolute path in one component', paths: [['ok.txt'], ['/tmp/escaped.txt']], viaCli: true},
	{title: 'a `..` deeper down', paths: [['sub', '..', '..', 'escaped.txt']]},
	{title: 'an absolute path as components', paths: [['', 'tmp', 'escaped.txt']]},
	{title: 'a separator inside a component', paths: [['sub/../../escaped.txt']]},
	{title: 'a backslash path', paths: [['..\\..\\escaped.txt']]},
	{title: 'a NUL byte', paths: [['escaped.txt\u0000.jpg']]},
	{title: 'a `.` component', paths: [['.', 'escaped.txt']]},
	{title: 'a torrent name of `..`', name: '..', paths: [['escaped.txt']]},
	{title: 'an absolute torrent name', name: '/tmp/escaped', paths: [['escaped.txt']]},
];

/** A path component that could not leave a folder: never empty, `.`, `..`, or holding a separator or NUL. */
const safeComponent = (component: string) =>
	component !== '' && component !== '.' && component !== '..' && !/[/\\\0]/.test(component);

// Each through the CLI would cost a process start; the parser is where the names are made safe,
// and two of them go the whole way below.
test('every name that would leave the output folder is made safe by the parser, as libtorrent makes it', (t) => {
	for (const {title, name, paths} of escapingNames) {
		const metainfo = parseMetainfo(
			buildTorrent({
				name: name ?? 'hostile',
				pieceLength,
				tiers: [['http://127.0.0.1:1/announce']],
				files: paths.map((components) => ({path: components, data: Buffer.alloc(100)})),
			}),
		);
		t.true(
			metainfo.files.every((file) => file.path[0] === metainfo.name && file.path.every(safeComponent)),
			`${title}: ${JSON.stringify(metainfo.files.map((file) => file.path))}`,
		);
	}
});

for (const {title, name, paths} of escapingNames.filter((entry) => entry.viaCli)) {
	test(`a multi-file torrent with ${title} makes its files inside the output folder, under safe names`, async (t) => {
		t.timeout(30_000);
		const parent = await tempDir(t, 'torrent-rx-fault-parent-');
		const outputDir = path.join(parent, 'out');
		await mkdir(outputDir);
		const torrentPath = await hostileTorrent(t, {...(name === undefined ? {} : {name}), paths});
		const run = spawnTorrentRx(
			t,
			[
				torrentPath,
				'-o',
				outputDir,
				'--no-metrics',
				'--no-history',
				'--debug',
				'--port',
				String(await freePort()),
			],
			{timeoutMs: 20_000},
		);
		// The files are made before the check, and the first announce goes after it.
		await waitForDebugEvent(run, (event) => event.type === 'announce-sent', {timeoutMs: 15_000});
		await killProcess(run.child, 'SIGINT');
		const expected = parseMetainfo(await readFile(torrentPath)).files.map((file) => file.path.join(path.sep));
		t.deepEqual(
			(await listAll(parent)).filter((entry) => !entry.includes('.torrent-rx')),
			[
				'out',
				...[...new Set(expected.flatMap((file) => ancestorsAndSelf(file)))].map((entry) =>
					path.join('out', entry),
				),
			].sort(),
			"only the torrent's files, inside the output folder",
		);
	});
}

/** `a/b/c` → `a`, `a/b`, `a/b/c`. */
function ancestorsAndSelf(relative: string): string[] {
	const parts = relative.split(path.sep);
	return parts.map((_, index) => parts.slice(0, index + 1).join(path.sep));
}

test('a folder of the torrent that is a link to outside the output folder is refused', async (t) => {
	t.timeout(30_000);
	const outside = await tempDir(t, 'torrent-rx-fault-outside-');
	const outputDir = await tempDir(t, 'torrent-rx-fault-out-');
	const torrentPath = await hostileTorrent(t, {name: 'album', paths: [['a.txt'], ['sub', 'b.txt']]});
	await mkdir(path.join(outputDir, 'album'));
	await symlink(outside, path.join(outputDir, 'album', 'sub'));

	const result = await runInto(t, torrentPath, outputDir);
	t.is(result.code, 1, describeRun(result));
	t.regex(
		messageLines(result.stderr).join('\n'),
		/refusing to write through a link that leaves the output folder/,
	);
	t.deepEqual(await readdir(outside), [], 'nothing was written through the link');
});

test('a torrent folder that is itself a link to outside the output folder is refused', async (t) => {
	t.timeout(30_000);
	const outside = await tempDir(t, 'torrent-rx-fault-outside-');
	const outputDir = await tempDir(t, 'torrent-rx-fault-out-');
	const torrentPath = await hostileTorrent(t, {name: 'album', paths: [['a.txt'], ['sub', 'b.txt']]});
	await symlink(outside, path.join(outputDir, 'album'));

	const result = await runInto(t, torrentPath, outputDir);
	t.is(result.code, 1, describeRun(result));
	t.regex(
		messageLines(result.stderr).join('\n'),
		/refusing to write through a link that leaves the output folder/,
	);
	t.deepEqual(await readdir(outside), [], 'nothing was written through the link');
});

test('a payload file that is a link to a file outside the output folder is refused and the target is untouched', async (t) => {
	t.timeout(30_000);
	const outside = await tempDir(t, 'torrent-rx-fault-outside-');
	const outputDir = await tempDir(t, 'torrent-rx-fault-out-');
	const victim = path.join(outside, 'precious.txt');
	await writeFile(victim, 'do not truncate me\n');
	const before = await stat(victim);
	const torrentPath = await hostileTorrent(t, {name: 'album', paths: [['a.txt'], ['b.txt']]});
	await mkdir(path.join(outputDir, 'album'));
	await symlink(victim, path.join(outputDir, 'album', 'b.txt'));

	const result = await runInto(t, torrentPath, outputDir);
	t.is(result.code, 1, describeRun(result));
	t.regex(messageLines(result.stderr).join('\n'), /b\.txt exists and is not a regular file/);
	t.is(await readFile(victim, 'utf8'), 'do not truncate me\n');
	t.is((await stat(victim)).mtimeMs, before.mtimeMs, 'the link target was not written');
	t.true(
		(await lstat(path.join(outputDir, 'album', 'b.txt'))).isSymbolicLink(),
		'the link is left as it was',
	);
});

test('files in the output folder that are not the torrent’s are never touched, and a partial copy of its own file is used', async (t) => {
	t.timeout(60_000);
	let seederAddress = {host: '127.0.0.1', port: 0};
	const tracker = await startFakeTracker(t, {kind: 'peers', peers: () => [seederAddress]});
	const fixture = await makeFixture(t, {
		name: 'album',
		pieceLength,
		tiers: [[tracker.url]],
		files: [
			{path: ['a.bin'], length: 300_000},
			{path: ['sub', 'b.bin'], length: 200_000},
		],
		salt: 'paths-neighbours',
	});
	seederAddress = await startSeeder(t, fixture);
	const outputDir = await tempDir(t, 'torrent-rx-fault-out-');

	// Neighbours: beside the payload, inside its folders, and names that differ only slightly.
	const neighbours = [
		'notes.txt',
		'album.bin',
		path.join('album', 'a.bin.bak'),
		path.join('album', 'sub', 'c.bin'),
	];
	await mkdir(path.join(outputDir, 'album', 'sub'), {recursive: true});
	for (const neighbour of neighbours) {
		await writeFile(path.join(outputDir, neighbour), `unrelated ${neighbour}\n`);
	}

	const neighbourTimes = await Promise.all(
		neighbours.map(async (file) => (await stat(path.join(outputDir, file))).mtimeMs),
	);
	// The first 5 pieces of a.bin are right, the rest of it garbage; b.bin is missing.
	const a = fixture.files[0]?.data ?? Buffer.alloc(0);
	const partial = Buffer.alloc(a.length, 0x5a);
	a.copy(partial, 0, 0, 5 * pieceLength);
	await writeFile(path.join(outputDir, 'album', 'a.bin'), partial);

	const result = await runInto(t, fixture.torrentPath, outputDir, ['--debug']);
	t.is(result.code, 0, describeRun(result));
	const checked = eventsOfType(result.stderr, 'checked')[0];
	t.is(checked?.pieces, 5, `the good pieces already there were kept: ${JSON.stringify(checked)}`);
	const fetched = eventsOfType(result.stderr, 'piece-verified').map((event) => Number(event.index));
	t.false(
		fetched.some((index) => index < 5),
		'none of them was downloaded again',
	);

	for (const neighbour of neighbours) {
		t.is(await readFile(path.join(outputDir, neighbour), 'utf8'), `unrelated ${neighbour}\n`, neighbour);
	}

	t.deepEqual(
		await Promise.all(neighbours.map(async (file) => (await stat(path.join(outputDir, file))).mtimeMs)),
		neighbourTimes,
		'no neighbour was written',
	);

	for (const file of fixture.files) {
		t.true(
			(await readFile(path.join(outputDir, file.relativePath))).equals(file.data),
			`${file.relativePath} is right`,
		);
	}
});

test('a complete copy already in the output folder is verified and used, not downloaded or rewritten', async (t) => {
	t.timeout(30_000);
	// A tracker that knows no peers: the run must finish from the disk alone.
	const tracker = await startFakeTracker(t, {kind: 'peers', peers: () => []});
	const fixture = await makeFixture(t, {
		name: 'done.bin',
		pieceLength,
		tiers: [[tracker.url]],
		length: 500_000,
		salt: 'paths-complete',
	});
	const outputDir = await tempDir(t, 'torrent-rx-fault-out-');
	const target = path.join(outputDir, 'done.bin');
	await writeFile(target, fixture.files[0]?.data ?? Buffer.alloc(0));
	const before = await stat(target);

	const result = await runInto(t, fixture.torrentPath, outputDir, ['--debug']);
	t.is(result.code, 0, describeRun(result));
	const checked = eventsOfType(result.stderr, 'checked')[0];
	t.is(checked?.pieces, checked?.total, `every piece was found on disk: ${JSON.stringify(checked)}`);
	t.deepEqual(eventsOfType(result.stderr, 'piece-verified'), [], 'nothing was downloaded');
	t.is((await stat(target)).mtimeMs, before.mtimeMs, 'the file was not rewritten');
	await assertSameFiles(t, outputDir, fixture);
});

// Regression: torrent-rx's own folder, `.torrent-rx` (resume files, the DHT state), was once
// written through links unchecked, so a `.torrent-rx` link to a folder outside got the resume file
// written there. It is now created with makeFolderInside (storage/paths.ts), like the payload
// paths, which refuses links that leave the output folder.
test('a `.torrent-rx` link to outside the output folder is not written through', async (t) => {
	t.timeout(30_000);
	const tracker = await startFakeTracker(t, {kind: 'peers', peers: () => []});
	const fixture = await makeFixture(t, {
		name: 'done.bin',
		pieceLength,
		tiers: [[tracker.url]],
		length: 100_000,
		salt: 'paths-resume-link',
	});
	const outside = await tempDir(t, 'torrent-rx-fault-outside-');
	const outputDir = await tempDir(t, 'torrent-rx-fault-out-');
	await writeFile(path.join(outputDir, 'done.bin'), fixture.files[0]?.data ?? Buffer.alloc(0));
	await symlink(outside, path.join(outputDir, '.torrent-rx'));

	const result = await runInto(t, fixture.torrentPath, outputDir);
	t.is(result.code, 0, describeRun(result));
	t.deepEqual(await readdir(outside), [], 'nothing was written through the link');
});

/**
 * Issue 14 (2.5): our own files in the output folder are written without following links planted
 * there: the DHT's state (the link at its old fixed temporary name overwrote the file it pointed
 * to with `{"nodes":[]}`) and the default history log.
 */
test('links planted at dht.json’s temporary name and at history.log are not written through', async (t) => {
	t.timeout(60_000);
	const tracker = await startFakeTracker(t, {kind: 'peers', peers: () => []});
	const fixture = await makeFixture(t, {
		name: 'done.bin',
		pieceLength,
		tiers: [[tracker.url]],
		length: 100_000,
		salt: 'paths-state-links',
	});
	const outside = await tempDir(t, 'torrent-rx-fault-outside-');
	const outputDir = await tempDir(t, 'torrent-rx-fault-out-');
	const victim = path.join(outside, 'victim');
	await writeFile(victim, 'do not touch\n');
	await writeFile(path.join(outputDir, 'done.bin'), fixture.files[0]?.data ?? Buffer.alloc(0));
	await mkdir(path.join(outputDir, '.torrent-rx'));
	await symlink(victim, path.join(outputDir, '.torrent-rx', 'dht.json.tmp'));

	// The DHT on, through a bootstrap address on 127.0.0.1 where nothing answers.
	const dht = ['--dht-bootstrap', `127.0.0.1:${await freePort()}`];
	const done = await runInto(t, fixture.torrentPath, outputDir, dht);
	t.is(done.code, 0, describeRun(done));
	t.is(await readFile(victim, 'utf8'), 'do not touch\n', 'dht.json was not written through the link');
	t.deepEqual(JSON.parse(await readFile(path.join(outputDir, '.torrent-rx', 'dht.json'), 'utf8')), {
		nodes: [],
	});

	await symlink(victim, path.join(outputDir, 'history.log'));
	const logged = await runTorrentRx(
		t,
		[fixture.torrentPath, '-o', outputDir, '--no-metrics', '--port', String(await freePort()), '--no-dht'],
		{timeoutMs: 20_000},
	);
	t.is(logged.code, 1, describeRun(logged));
	t.regex(messageLines(logged.stderr).join('\n'), /refusing to write the log through a link/);
	t.is(await readFile(victim, 'utf8'), 'do not touch\n', 'history.log was not written through the link');
});

/** Issue 14 (2.12): a torrent named after our state folder would put its payload in it. */
test('a torrent named .torrent-rx is refused with one line before anything is written', async (t) => {
	t.timeout(30_000);
	const outputDir = await tempDir(t, 'torrent-rx-fault-out-');
	const torrentPath = await hostileTorrent(t, {name: '.torrent-rx', paths: [['a.txt']]});
	const result = await runInto(t, torrentPath, outputDir);
	t.is(result.code, 2, describeRun(result));
	t.deepEqual(messageLines(result.stderr), [
		"torrent-rx: the torrent's name .torrent-rx is torrent-rx's own state folder; refusing it",
	]);
	t.deepEqual(await listAll(outputDir), []);
});

test('a single-file torrent named history.log is refused while the default log would share its name', async (t) => {
	t.timeout(30_000);
	const outputDir = await tempDir(t, 'torrent-rx-fault-out-');
	const dir = await tempDir(t, 'torrent-rx-fault-torrent-');
	const torrentPath = path.join(dir, 'history.torrent');
	await writeFile(
		torrentPath,
		buildTorrent({
			name: 'history.log',
			pieceLength,
			tiers: [[`http://127.0.0.1:${await freePort()}/announce`]],
			data: Buffer.alloc(3000, 7),
		}),
	);
	const result = await runTorrentRx(
		t,
		[torrentPath, '-o', outputDir, '--no-metrics', '--port', String(await freePort())],
		{timeoutMs: 20_000},
	);
	t.is(result.code, 2, describeRun(result));
	const lines = messageLines(result.stderr);
	t.is(lines.length, 1, describeRun(result));
	t.regex(lines[0] ?? '', /history log.*--history FILE or --no-history/);
	t.deepEqual(await listAll(outputDir), []);
});
