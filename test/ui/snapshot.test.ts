import test from 'ava';
import type {TimedEvent} from '../../source/events/events.js';
import {initialRunState, reduceRunState} from '../../source/events/run-state.js';
import {formatDuration} from '../../source/ui/format.js';
import {formatProgress, peerColumns, snapshot} from '../../source/ui/snapshot.js';

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
});

function collectStrings(value: unknown): string[] {
	if (typeof value === 'string') {
		return [value];
	}

	return typeof value === 'object' && value !== null ? Object.values(value).flatMap(collectStrings) : [];
}
