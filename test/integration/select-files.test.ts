/**
 * Choosing files (`--select`, `--exclude`) against a libtorrent seeder: only the chosen files
 * are made, byte-identical; a neighbour that shares a piece is not made, its bytes of that piece
 * kept in the parts file; a second run that selects it completes it from there without fetching
 * the shared piece again.
 */
import {access, readdir, readFile} from 'node:fs/promises';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {countingProxy} from '../helpers/counting-proxy.js';
import {downloadWithTorrentRx} from '../helpers/interop.js';
import {
	announceSeeder,
	createTorrentWith,
	freePort,
	type LibtorrentView,
	libtorrentView,
	makePayload,
	type Payload,
	type PayloadSpec,
	startLibtorrentSeeder,
	startOpentracker,
	tempDir,
} from '../helpers/swarm-fixture.js';

const kib = 1024;
const pieceLength = 64 * kib;

/** Files that do not end on piece boundaries (v1, no pad files): neighbours share pieces. */
const album: PayloadSpec = {
	name: 'album',
	files: [
		{path: '01 intro.flac', length: 200_000},
		{path: '02 song.flac', length: 300_000},
		{path: 'cover.jpg', length: 90_000},
		{path: 'notes/liner.txt', length: 30_000},
		{path: '03 outro.flac', length: 250_000},
	],
};

async function albumSwarm(t: ExecutionContext) {
	const dir = await tempDir(t);
	const payload = await makePayload(dir, album);
	const trackerPort = await freePort();
	const torrentPath = path.join(dir, 'album.torrent');
	const {infoHash, announcedHashes} = await createTorrentWith(payload.path, torrentPath, {
		pieceLength,
		v1Only: true,
		trackers: [[`http://127.0.0.1:${trackerPort}/announce`]],
	});
	const tracker = await startOpentracker(t, announcedHashes, {port: trackerPort});
	const view = await libtorrentView(torrentPath);
	const seeder = await startLibtorrentSeeder(t, torrentPath, dir, {mode: 'seed-quietly'});
	const proxy = await countingProxy(t, seeder.port);
	await announceSeeder(tracker.url, infoHash, proxy.port);
	return {payload, torrentPath, view, proxy};
}

/** The torrent's files in its own order (libtorrent sorts them), numbered from 1 as `info` prints them. */
function numbering(view: LibtorrentView) {
	const numberOf = (name: string) => view.files.findIndex((entry) => entry.path.endsWith(`/${name}`)) + 1;
	/** The pieces that hold bytes of the files numbered `numbers` (a v1 torrent: no pad files between them). */
	const piecesOf = (numbers: number[]): Set<number> => {
		const pieces = new Set<number>();
		let offset = 0;
		for (const [index, entry] of view.files.entries()) {
			const last = Math.floor((offset + entry.size - 1) / pieceLength);
			for (
				let piece = Math.floor(offset / pieceLength);
				numbers.includes(index + 1) && piece <= last;
				piece++
			) {
				pieces.add(piece);
			}

			offset += entry.size;
		}

		return pieces;
	};

	return {numberOf, piecesOf};
}

const sorted = (pieces: Iterable<number>) => [...new Set(pieces)].sort((a, b) => a - b);

async function exists(file: string): Promise<boolean> {
	return access(file).then(
		() => true,
		() => false,
	);
}

/** The payload file `name` (below the album's folder) is in `downloadDir`, byte-identical. */
async function assertFile(t: ExecutionContext, downloadDir: string, payload: Payload, name: string) {
	const original = payload.files.find((entry) => entry.relativePath === path.join('album', name));
	const written = await readFile(path.join(downloadDir, 'album', name));
	t.true(original !== undefined && written.equals(original.data), `${name} is byte-identical`);
}

test('a selection: only the selected files are made, byte-identical; a neighbour sharing a piece is not; a second run selecting it completes it without the shared piece', async (t) => {
	t.timeout(150_000);
	const swarm = await albumSwarm(t);
	const {numberOf, piecesOf} = numbering(swarm.view);
	const [intro, song, cover] = [numberOf('01 intro.flac'), numberOf('02 song.flac'), numberOf('cover.jpg')];
	const downloadDir = await tempDir(t);
	// The song by number, the cover by glob.
	const first = await downloadWithTorrentRx(t, {
		torrentPath: swarm.torrentPath,
		downloadDir,
		flags: ['--no-history', '--encryption', 'off', '--select', String(song), '--select', '*.jpg'],
		timeoutMs: 60_000,
	});
	const started = first.events.find((event) => event.type === 'started') as {
		files?: Array<{selected: boolean}>;
	};
	t.deepEqual(
		started.files?.map((entry) => entry.selected),
		swarm.view.files.map((_, index) => index + 1 === song || index + 1 === cover),
	);
	const fetched = first.events
		.filter((event) => event.type === 'piece-verified')
		.map((event) => Number(event.index));
	t.deepEqual(
		sorted(fetched),
		sorted(piecesOf([song, cover])),
		'requests went to the pieces of the selected files alone',
	);
	await assertFile(t, downloadDir, swarm.payload, '02 song.flac');
	await assertFile(t, downloadDir, swarm.payload, 'cover.jpg');
	// Every other file shares a piece with one of them (libtorrent orders them intro, cover, notes, song, outro), and none exists.
	for (const name of ['01 intro.flac', '03 outro.flac', 'notes']) {
		t.false(await exists(path.join(downloadDir, 'album', name)), `${name} was not made`);
	}

	const state = await readdir(path.join(downloadDir, '.torrent-rx'));
	t.true(
		state.some((name) => name.endsWith('.parts')),
		state.join(', '),
	);
	const received = swarm.proxy.counted.bytes;
	const wantedBytes = piecesOf([song, cover]).size * pieceLength;
	t.true(
		received <= wantedBytes + 32 * kib,
		`${received} bytes received for ${wantedBytes} bytes of wanted pieces`,
	);

	// The second run adds the intro: its pieces but the one it shares with a file of the first, which is there.
	const second = await downloadWithTorrentRx(t, {
		torrentPath: swarm.torrentPath,
		downloadDir,
		flags: ['--no-history', '--encryption', 'off', '--select', `${intro},${song},${cover}`],
		timeoutMs: 60_000,
	});
	const fetchedAgain = second.events
		.filter((event) => event.type === 'piece-verified')
		.map((event) => Number(event.index));
	const shared = [...piecesOf([intro])].filter((piece) => piecesOf([song, cover]).has(piece));
	t.is(shared.length, 1);
	t.deepEqual(
		sorted(fetchedAgain),
		sorted([...piecesOf([intro])].filter((piece) => !shared.includes(piece))),
		`piece ${shared[0]} was not fetched again`,
	);
	for (const name of ['01 intro.flac', '02 song.flac', 'cover.jpg']) {
		await assertFile(t, downloadDir, swarm.payload, name);
	}

	t.false(await exists(path.join(downloadDir, 'album', '03 outro.flac')));
});

test('the resume file remembers the selection: a run that names none takes the last one, and --select "*" takes every file', async (t) => {
	t.timeout(150_000);
	const swarm = await albumSwarm(t);
	const downloadDir = await tempDir(t);
	await downloadWithTorrentRx(t, {
		torrentPath: swarm.torrentPath,
		downloadDir,
		flags: ['--no-history', '--encryption', 'off', '--exclude', '*.flac'],
		timeoutMs: 60_000,
	});
	const again = await downloadWithTorrentRx(t, {
		torrentPath: swarm.torrentPath,
		downloadDir,
		flags: ['--no-history', '--encryption', 'off'],
		timeoutMs: 60_000,
	});
	t.is(again.events.filter((event) => event.type === 'piece-verified').length, 0, 'nothing more was fetched');
	t.false(await exists(path.join(downloadDir, 'album', '01 intro.flac')));
	await downloadWithTorrentRx(t, {
		torrentPath: swarm.torrentPath,
		downloadDir,
		flags: ['--no-history', '--encryption', 'off', '--select', '*'],
		timeoutMs: 60_000,
	});
	for (const entry of swarm.payload.files) {
		await assertFile(t, downloadDir, swarm.payload, path.relative('album', entry.relativePath));
	}

	t.false((await readdir(path.join(downloadDir, '.torrent-rx'))).some((name) => name.endsWith('.parts')));
	t.is(swarm.view.files.length, album.files.length);
});
