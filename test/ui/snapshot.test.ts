import test from 'ava';
import type {TimedEvent} from '../../source/events/events.js';
import {initialRunState, type RunState, reduceRunState} from '../../source/events/run-state.js';
import {fileColumns, maxFileRows} from '../../source/ui/file-list.js';
import {formatDuration, formatProgress} from '../../source/ui/format.js';
import {peerColumns, snapshot} from '../../source/ui/snapshot.js';
import {mb, selectedRun} from '../helpers/selected-run.js';

const events: TimedEvent[] = [
	{
		type: 'started',
		name: 'a.iso',
		infoHash: 'ab'.repeat(20),
		pieceCount: 4,
		pieceLength: 1000,
		totalLength: 3500,
		at: 0,
	},
	{type: 'peer-connecting', peer: 'slow', source: 'tracker', at: 0},
	{type: 'peer-connected', peer: 'slow', peerId: '-TR4060-000000000000', at: 0},
	{type: 'peer-connecting', peer: 'fast', source: 'pex', at: 0},
	{type: 'peer-connected', peer: 'fast', peerId: 'A2-1-36-0-0000000000', protection: 'rc4', at: 0},
	{type: 'peer-connected', peer: 'uploader', peerId: '-qB4650-000000000000', protection: 'plaintext', at: 0},
	{type: 'peer-unchoked', peer: 'fast', at: 100},
	{type: 'piece-started', peer: 'fast', index: 0, at: 100},
	{type: 'piece-started', peer: 'fast', index: 2, at: 150},
	{type: 'piece-verified', peer: 'fast', index: 0, bytes: 1000, at: 900},
	{type: 'uploaded', peer: 'uploader', bytes: 500, at: 950},
	{
		type: 'announce-answered',
		tracker: 'udp://t.example:80',
		event: 'regular',
		peers: [],
		interval: 60,
		at: 1000,
	},
];

test('a snapshot is the state formatted for any view, peers fastest first', (t) => {
	const view = snapshot(events.reduce(reduceRunState, initialRunState));
	t.like(view, {
		name: 'a.iso',
		phase: 'downloading',
		activity: 'downloading',
		pieces: '1 of 4 pieces',
		percent: '28.5%',
		downloadRate: '1.0 kB/s',
		uploadRate: '500 B/s',
		eta: '0:03',
		peers: '3 peers',
		tracker: '0 peers from t.example:80',
	});
	t.deepEqual(view.columns, peerColumns);
	t.deepEqual(
		view.rows.map((row) => row.cells),
		[
			['fast', 'aria2 1.36.0', 'rc4', 'pex', 'downloading', '2', '1', '1.0 kB', ''],
			['uploader', 'qBittorrent 4.6.5', '', '', 'choked', '', '0', '', '500 B'],
			// A log from before MSE/PE says nothing of it: the cell stays empty.
			['slow', 'Transmission 4.0.6', '', 'tracker', 'choked', '', '0', '', ''],
		],
	);
	t.deepEqual(JSON.parse(JSON.stringify(view)), view, 'plain JSON, as the web view sends it');
	// A log from before the files were recorded: no list, no selection, progress of the torrent.
	t.is(view.selection, '');
	t.deepEqual(view.files, {rows: [], omitted: 0, more: ''});
});

test('checking and starving read as words', (t) => {
	const checking = reduceRunState(initialRunState, {type: 'checking', checked: 3, total: 10, at: 1});
	t.is(snapshot(checking).activity, 'checking 3 of 10 pieces');
	t.is(snapshot(reduceRunState(checking, {type: 'no-peers', at: 2})).activity, 'waiting for peers');
});

test('progress rounds down: 100% only when everything is in', (t) => {
	t.is(formatProgress(0.9999), '99.9%');
	t.is(formatProgress(1), '100.0%');
	t.is(formatProgress(0), '0.0%');
});

test('durations read as m:ss or h:mm:ss', (t) => {
	t.is(formatDuration(42), '0:42');
	t.is(formatDuration(725), '12:05');
	t.is(formatDuration(10_929), '3:02:09');
	t.is(formatDuration(-3), '0:00');
});

// biome-ignore lint/suspicious/noControlCharactersInRegex: these are what the test looks for.
const unsafe = /[\u0000-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/u;

/** A run where every string from outside carries a terminal escape. */
const hostileEvents: TimedEvent[] = [
	{
		type: 'started',
		name: 'clear\u001B[2J\u001B]0;pwned\u0007.iso\u202Egpj',
		infoHash: 'ab'.repeat(20),
		pieceCount: 4,
		pieceLength: 1000,
		totalLength: 4000,
		files: [
			{number: 1, path: 'a\u001B[2J/b\u202Egpj.exe', offset: 0, length: 2000, selected: true},
			{number: 2, path: 'c\u009B31m.txt', offset: 2000, length: 2000, selected: false},
		],
		at: 0,
	},
	{type: 'peer-connecting', peer: '10.0.0.1\u001B[31m:6881', source: 'tracker', at: 0},
	{type: 'peer-connected', peer: '10.0.0.1\u001B[31m:6881', peerId: '-TR4060-000000000000', at: 0},
	{type: 'peer-identified', peer: '10.0.0.1\u001B[31m:6881', client: 'x\u009B2Jy', at: 0},
	{
		type: 'announce-failed',
		tracker: 'http://t.example/announce',
		event: 'started',
		reason: 'go away\u001B[2J\u001B[H\r\nfake: line',
		at: 10,
	},
];

test('every string from outside reaches the views printable: no escape, control or bidi override', (t) => {
	const view = snapshot(hostileEvents.reduce(reduceRunState, initialRunState));
	const strings = collectStrings(view);
	t.true(strings.length > 10);
	for (const text of strings) {
		t.false(unsafe.test(text), JSON.stringify(text));
	}

	t.is(view.name, 'clear [2J ]0;pwned .iso gpj');
	t.regex(view.tracker, /^t\.example: go away \[2J \[H {2}fake: line$/);
	t.deepEqual(
		view.files.rows.map((row) => row.cells[1]),
		['a [2J/b gpj.exe', 'c 31m.txt'],
	);
});

function collectStrings(value: unknown): string[] {
	if (typeof value === 'string') {
		return [value];
	}

	return typeof value === 'object' && value !== null ? Object.values(value).flatMap(collectStrings) : [];
}

const fold = (events: readonly TimedEvent[], from: RunState = initialRunState): RunState =>
	events.reduce(reduceRunState, from);

test('a selection says what it takes, and the progress is of the selected files alone', (t) => {
	const view = snapshot(fold(selectedRun));
	t.is(view.selection, '2 of 4 files, 4.0 MB of 6.0 MB');
	// 0.5 MB of file 2 and all of file 4, of 4 MB selected; the torrent as a whole is at 33.3%.
	t.is(view.progress, 1.5 / 4);
	t.is(view.percent, '37.5%');
	t.is(view.pieces, '2 of 6 pieces');
});

test('every file selected: no selection text, and the progress is of the torrent', (t) => {
	const [started, ...rest] = selectedRun;
	if (started?.type !== 'started') {
		throw new Error('the run starts with started');
	}

	const everything = {...started, files: started.files?.map((file) => ({...file, selected: true}))};
	const view = snapshot(fold([everything, ...rest]));
	t.is(view.selection, '');
	t.is(view.percent, '33.3%');
	t.is(view.files.rows.length, 4);
});

test('the file list: in progress first, then to come, done, and not selected, each in the torrent order', (t) => {
	const view = snapshot(fold(selectedRun));
	t.deepEqual(view.fileColumns, fileColumns);
	t.deepEqual(
		view.files.rows.map((row) => row.cells),
		[
			['2', 'album/side-a.flac', '3.0 MB', '16.6%'],
			['4', 'album/side-b.flac', '1.0 MB', '100.0%'],
			// Half of file 1 came with piece 0, but it is not what the user asked for.
			['1', 'album/cover.nfo', '500.0 kB', 'skip'],
			['3', 'album/bonus.flac', '1.5 MB', 'skip'],
		],
	);
	t.deepEqual(
		view.files.rows.map((row) => [row.number, row.selected]),
		[
			[2, true],
			[4, true],
			[1, false],
			[3, false],
		],
	);
	t.deepEqual({omitted: view.files.omitted, more: view.files.more}, {omitted: 0, more: ''});
	const completed = snapshot(fold([{type: 'completed', bytes: 4 * mb, at: 2000}], fold(selectedRun)));
	t.is(completed.percent, '100.0%');
	t.deepEqual(
		completed.files.rows.map((row) => row.cells[3]),
		['100.0%', '100.0%', 'skip', 'skip'],
	);
});

test('50,000 files: at most the bound in rows, what is in progress and to come first, and a line for the rest', (t) => {
	const count = 50_000;
	const length = 2000;
	const state = fold([
		{
			type: 'started',
			name: 'many',
			infoHash: 'ef'.repeat(20),
			pieceCount: count * 2,
			pieceLength: 1000,
			totalLength: count * length,
			// Every hundredth file selected.
			files: Array.from({length: count}, (_, index) => ({
				number: index + 1,
				path: `many/${index + 1}.txt`,
				offset: index * length,
				length,
				selected: (index + 1) % 100 === 0,
			})),
			at: 0,
		},
		// Half of file 100, all of file 200.
		{type: 'piece-verified', peer: '127.0.0.1:6881', index: 198, bytes: 1000, at: 100},
		{type: 'piece-verified', peer: '127.0.0.1:6881', index: 398, bytes: 1000, at: 200},
		{type: 'piece-verified', peer: '127.0.0.1:6881', index: 399, bytes: 1000, at: 300},
	]);
	const view = snapshot(state);
	t.is(view.selection, '500 of 50000 files, 1.0 MB of 100.0 MB');
	const {rows, omitted, more} = view.files;
	t.is(rows.length, maxFileRows);
	t.is(omitted, count - maxFileRows);
	t.is(more, 'and 49,800 more files');
	t.deepEqual(rows[0]?.cells, ['100', 'many/100.txt', '2.0 kB', '50.0%']);
	// Then the files still to come, in order: 300, 400 … (file 200, done, comes after them).
	t.deepEqual(
		rows.slice(1, 4).map((row) => row.number),
		[300, 400, 500],
	);
	t.true(rows.every((row) => row.selected));
	t.true(JSON.stringify(view).length < 30_000, `${JSON.stringify(view).length} characters`);
});

test('the file list is formatted again only when a file changed, and only the rows of files that did', (t) => {
	const state = fold(selectedRun);
	const first = snapshot(state);
	// Peers come and go: the files are the same array, and so is their list.
	const peerOnly = fold([{type: 'peer-connecting', peer: '127.0.0.1:6882', at: 1100}], state);
	t.is(peerOnly.files, state.files);
	t.is(snapshot(peerOnly).files, first.files);
	// Piece 1 (the second megabyte of file 2): a new list, file 2's row new, the others as they were.
	const piece = fold(
		[{type: 'piece-verified', peer: '127.0.0.1:6881', index: 1, bytes: mb, at: 1200}],
		state,
	);
	const later = snapshot(piece).files;
	t.not(later, first.files);
	t.is(later.rows[0]?.cells[3], '50.0%');
	t.not(later.rows[0], first.files.rows[0]);
	t.deepEqual(
		later.rows.slice(1).map((row, index) => row === first.files.rows[index + 1]),
		[true, true, true],
	);
});

test('a long path keeps its end, the file name, within the cap; a pair of units is never cut in two', (t) => {
	const folder = 'deep/'.repeat(200);
	const state = fold([
		{
			type: 'started',
			name: 'long',
			infoHash: '12'.repeat(20),
			pieceCount: 1,
			pieceLength: 16_384,
			totalLength: 30,
			files: [
				{number: 1, path: `${folder}the-name.mkv`, offset: 0, length: 10, selected: true},
				{number: 2, path: `${'🎬'.repeat(300)}/end.mkv`, offset: 10, length: 10, selected: true},
				{number: 3, path: `${'🎬'.repeat(200)}.mkv`, offset: 20, length: 10, selected: true},
			],
			at: 0,
		},
	]);
	const paths = snapshot(state).files.rows.map((row) => row.cells[1] ?? '');
	t.regex(paths[0] ?? '', /^…[a-z/]+\/deep\/the-name\.mkv$/);
	t.is(Array.from(paths[0] ?? '').length, 255);
	t.regex(paths[1] ?? '', /^…🎬+\/end\.mkv$/u);
	// 200 characters in 404 units: within the cap, whole.
	t.is(paths[2], `${'🎬'.repeat(200)}.mkv`);
	for (const path of paths) {
		t.true(Array.from(path).length <= 255, `${Array.from(path).length} characters`);
		t.false(/[\uD800-\uDFFF]/u.test(path), 'no lone surrogate');
	}
});

test('a web seed is a row of the peer table by its host, Client web seed, its rate from its pieces', (t) => {
	const seed = 'http://mirror.example.org:8080/pub/item/';
	const view = snapshot(
		fold([
			{
				type: 'started',
				name: 'x',
				infoHash: 'ab'.repeat(20),
				pieceCount: 4,
				pieceLength: mb,
				totalLength: 4 * mb,
				at: 0,
			},
			{type: 'web-seed-connected', seed, at: 500},
			{type: 'piece-verified', peer: seed, index: 0, bytes: mb, at: 1000},
		]),
	);
	const row = view.rows.find((candidate) => candidate.address === seed);
	t.is(row?.cells[0], 'mirror.example.org:8080');
	t.is(row?.cells[1], 'web seed');
	t.is(row?.cells[3], 'web-seed');
	t.is(row?.cells[6], '1');
	const dropped = snapshot(
		fold(
			[{type: 'web-seed-failed', seed, reason: '404 Not Found', at: 2000}],
			fold([
				{
					type: 'started',
					name: 'x',
					infoHash: 'ab'.repeat(20),
					pieceCount: 4,
					pieceLength: mb,
					totalLength: 4 * mb,
					at: 0,
				},
				{type: 'web-seed-connected', seed, at: 500},
			]),
		),
	);
	t.is(dropped.rows.length, 0, 'a dropped seed leaves the table');
});
