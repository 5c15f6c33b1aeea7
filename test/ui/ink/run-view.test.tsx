import test from 'ava';
import {render} from 'ink-testing-library';
import type {TimedEvent} from '../../../source/events/events.js';
import {initialRunState, type RunState, reduceRunState} from '../../../source/events/run-state.js';
import {LiveRunView} from '../../../source/ui/ink/ink-view.js';
import {RunView, type RunViewList} from '../../../source/ui/ink/run-view.js';
import {snapshot} from '../../../source/ui/snapshot.js';
import {selectedRun} from '../../helpers/selected-run.js';
import {until} from '../../helpers/until.js';

const fold = (events: TimedEvent[], from: RunState = initialRunState): RunState =>
	events.reduce(reduceRunState, from);

// biome-ignore lint/suspicious/noControlCharactersInRegex: the escape is what colours start with.
const plain = (frame: string | undefined) => (frame ?? '').replace(/\u001B\[[0-9;]*m/g, '');

function frameOf(
	state: RunState,
	{columns = 80, rows = 24, list = 'peers'}: {columns?: number; rows?: number; list?: RunViewList} = {},
): string[] {
	const {lastFrame, unmount} = render(
		<RunView view={snapshot(state)} columns={columns} rows={rows} list={list} />,
	);
	const lines = plain(lastFrame()).split('\n');
	unmount();
	return lines;
}

const started = fold([
	{
		type: 'started',
		name: 'debian-13.iso',
		infoHash: 'ab'.repeat(20),
		pieceCount: 100,
		pieceLength: 1_000_000,
		totalLength: 100_000_000,
		at: 0,
	},
]);

/** Peer `n` at 127.0.0.1:(6881+n), connected and unchoked, sending `pieces` pieces a second for 4 s. */
function withPeers(count: number, from: RunState = started, firstPiece = 0): RunState {
	const events: TimedEvent[] = [];
	let index = firstPiece;
	for (let n = 0; n < count; n++) {
		const peer = `127.0.0.1:${6881 + n}`;
		events.push(
			{type: 'peer-connecting', peer, at: 1},
			// Every other one over RC4 (MSE/PE).
			{
				type: 'peer-connected',
				peer,
				peerId: `-LT2080-${String(n).padStart(12, '0')}`,
				protection: n % 2 === 0 ? 'plaintext' : 'rc4',
				at: 2,
			},
			{type: 'peer-unchoked', peer, at: 3},
		);
		for (let piece = 0; piece < n % 4; piece++) {
			events.push(
				{type: 'piece-started', peer, index, at: 4},
				{type: 'piece-verified', peer, index, bytes: 1_000_000, at: 1000 + n},
			);
			index++;
		}
	}

	return fold(
		events.sort((a, b) => a.at - b.at),
		from,
	);
}

test('before anything happens: the name, no progress, and no peers yet', (t) => {
	const lines = frameOf(initialRunState);
	t.regex(lines[0] ?? '', /^torrent-rx +starting$/);
	t.regex(lines[1] ?? '', / 0\.0% 0 of 0 pieces$/);
	t.true(lines.some((line) => line === 'no peers yet'));
	t.is(lines.at(-1), 'q to quit, f for files');
});

test('a few peers: one row each, fastest first, with client, encryption, status, piece and rates', (t) => {
	const state = fold(
		[
			{type: 'piece-started', peer: '127.0.0.1:6884', index: 42, at: 1500},
			{type: 'peer-connecting', peer: '[::1]:51413', at: 1600},
		],
		withPeers(4),
	);
	const lines = frameOf(state, {columns: 84});
	t.regex(lines[0] ?? '', /^debian-13\.iso +downloading$/);
	t.regex(lines[1] ?? '', /█+░+ 6\.0% 6 of 100 pieces$/);
	t.regex(lines[2] ?? '', /^↓ 3\.8 MB\/s ↑ 0 B\/s ETA 0:25 4 peers$/);
	const head = lines.findIndex((line) => line.startsWith('Peer '));
	t.deepEqual(lines[head]?.split(/ {2,}|(?<=\S) (?=[A-Z])/), [
		'Peer',
		'Client',
		'Enc',
		'Status',
		'Piece',
		'Downloaded',
		'Down rate',
		'Up rate',
	]);
	const rows = lines.slice(head + 1, head + 6);
	t.deepEqual(
		rows.map((row) => row.split(/\s+/)[0]),
		['127.0.0.1:6884', '127.0.0.1:6883', '127.0.0.1:6882', '127.0.0.1:6881', '[::1]:51413'],
	);
	t.regex(rows[0] ?? '', /^127\.0\.0\.1:6884 +libtorrent 2\.0\.8 +rc4 +downloading +42 +3 +1\.9 MB$/);
	t.regex(rows[1] ?? '', /^127\.0\.0\.1:6883 +libtorrent 2\.0\.8 +unchoked +2 +1\.3 MB$/);
	t.regex(rows[3] ?? '', /^127\.0\.0\.1:6881 +libtorrent 2\.0\.8 +unchoked +0 *$/);
	t.regex(rows[4] ?? '', /^\[::1\]:51413 +… +connecting +0 *$/);
	for (const line of lines) {
		t.true(line.length <= 84, `fits 84 columns: ${line}`);
	}
});

test('80 columns: every column but Piece and From, encryption among them', (t) => {
	const lines = frameOf(withPeers(4));
	const head = lines.findIndex((line) => line.startsWith('Peer '));
	t.regex(lines[head] ?? '', /^Peer +Client +Enc +Status +Downloaded +Down rate +Up rate$/);
	t.regex(lines[head + 1] ?? '', /^127\.0\.0\.1:6884 +libtorrent 2\.0\.8 +rc4 +unchoked +3 +3\.0 MB$/);
	t.regex(lines[head + 2] ?? '', /^127\.0\.0\.1:6883 +libtorrent 2\.0\.8 +unchoked +2 +2\.0 MB$/);
	for (const line of lines) {
		t.true(line.length <= 80, `fits 80 columns: ${line}`);
	}
});

test('more peers than rows: the fastest fill the screen and a line counts the rest', (t) => {
	const lines = frameOf(withPeers(30), {rows: 20});
	t.true(lines.length <= 20, `${lines.length} lines`);
	t.is(lines.filter((line) => line.startsWith('127.0.0.1:')).length, 13);
	t.true(lines.includes('+17 more'));
});

test('one peer too many for the screen is shown rather than counted', (t) => {
	const lines = frameOf(withPeers(14), {rows: 20});
	t.is(lines.filter((line) => line.startsWith('127.0.0.1:')).length, 14);
	t.false(lines.some((line) => line.startsWith('+')));
});

test('a finished download: full bar, completed, no ETA', (t) => {
	const pieces = Array.from(
		{length: 100},
		(_, index): TimedEvent => ({
			type: 'piece-verified',
			peer: '127.0.0.1:6881',
			index,
			bytes: 1_000_000,
			at: 2000 + index * 10,
		}),
	);
	const state = fold([...pieces, {type: 'completed', bytes: 100_000_000, at: 3000}], withPeers(1));
	const lines = frameOf(state);
	t.regex(lines[0] ?? '', /completed$/);
	t.regex(lines[1] ?? '', /^█+ 100\.0% 100 of 100 pieces$/);
	t.regex(lines[2] ?? '', /ETA – 1 peer$/);
	t.regex(lines.find((line) => line.startsWith('127.0.0.1:6881')) ?? '', / 100 +\d/);
});

test('wider terminals give the room to the peer column', (t) => {
	const state = fold([{type: 'peer-connecting', peer: '[2001:db8::1234:5678]:51413', at: 5}], started);
	const narrow = frameOf(state).find((line) => line.startsWith('[2001'));
	const wide = frameOf(state, {columns: 120}).find((line) => line.startsWith('[2001'));
	t.regex(narrow ?? '', /^\[2001:db8::1234:…/);
	t.regex(wide ?? '', /^\[2001:db8::1234:5678\]:51413 /);
});

test('q quits the live view; other keys do not', async (t) => {
	let quits = 0;
	const {stdin, unmount} = render(<LiveRunView view={snapshot(started)} onQuit={() => quits++} />);
	t.teardown(unmount);
	// Keys reach the view only once its input hook has set raw mode and listens: before that
	// they are lost. Wait for the listener, not for a delay that usually suffices.
	await until(() => stdin.listenerCount('readable') > 0, 5000, 'the view listens to its input');
	stdin.write('x');
	stdin.write('q');
	// Keys are handled in order: once the q is, the x was, and it did not count.
	await until(() => quits > 0, 5000, 'q quits');
	t.is(quits, 1);
});

test('from 93 columns the table also says where each peer came from', (t) => {
	const state = fold([{type: 'peer-connecting', peer: '127.0.0.1:7000', source: 'pex', at: 5}], started);
	const narrow = frameOf(state, {columns: 92});
	const wide = frameOf(state, {columns: 93});
	t.false(narrow.some((line) => line.includes('From')));
	t.regex(wide.find((line) => line.startsWith('Peer')) ?? '', / From +Status /);
	t.regex(wide.find((line) => line.startsWith('127.0.0.1:7000')) ?? '', / pex +connecting /);
});

test('a torrent name, a tracker failure and a peer with terminal escapes reach the screen printable', (t) => {
	const hostile = fold([
		{
			type: 'started',
			name: 'clear\u001B[2J\u001B]0;pwned\u0007.iso\u202Egpj',
			infoHash: 'ab'.repeat(20),
			pieceCount: 4,
			pieceLength: 1000,
			totalLength: 4000,
			at: 0,
		},
		{type: 'peer-connected', peer: '10.0.0.1\u001B[31m:6881', peerId: '-TR4060-000000000000', at: 0},
		{type: 'peer-identified', peer: '10.0.0.1\u001B[31m:6881', client: 'x\u009B2Jy', at: 0},
		{
			type: 'announce-failed',
			tracker: 'http://t.example/announce',
			event: 'started',
			reason: 'go away\u001B[2J\r\nfake',
			at: 10,
		},
	]);
	const frame = frameOf(hostile, {columns: 120}).join('\n');
	// biome-ignore lint/suspicious/noControlCharactersInRegex: these are what the test looks for.
	t.notRegex(frame, /[\u0000-\u0009\u000B-\u001F\u007F-\u009F\u202A-\u202E\u2066-\u2069]/u);
	t.regex(frame, /clear \[2J ]0;pwned \.iso gpj/);
	t.regex(frame, /go away \[2J/);
});

/** Four files over six pieces of 1 MB, the second and the fourth selected; piece 0 on disk, piece 5 in, from one peer. */
const selected = fold([
	...selectedRun.slice(0, 2),
	{type: 'peer-connected', peer: '127.0.0.1:6881', peerId: '-LT2080-000000000000', at: 20},
	...selectedRun.slice(2),
]);

test('a selection: the header says what is selected, and the progress is of the selected files', (t) => {
	const lines = frameOf(selected);
	t.regex(lines[1] ?? '', / 37\.5% 2 of 6 pieces$/);
	t.is(lines[3], 'Selected 2 of 4 files, 4.0 MB of 6.0 MB');
	t.true(lines.some((line) => line.startsWith('Peer ')));
	t.is(lines.at(-1), 'q to quit, f for files');
});

test('the file list: each file with its size and progress, those not selected marked skip', (t) => {
	const lines = frameOf(selected, {list: 'files'});
	const head = lines.findIndex((line) => /^# +File +Size +Done$/.test(line));
	t.true(head > 0, lines.join('\n'));
	t.false(
		lines.some((line) => line.startsWith('Peer ')),
		'instead of the peer table',
	);
	t.deepEqual(
		lines.slice(head + 1, head + 5).map((line) => line.split(/ {2,}/)),
		[
			['2', 'album/side-a.flac', '3.0 MB', '16.6%'],
			['4', 'album/side-b.flac', '1.0 MB', '100.0%'],
			['1', 'album/cover.nfo', '500.0 kB', 'skip'],
			['3', 'album/bonus.flac', '1.5 MB', 'skip'],
		],
	);
	t.is(lines.at(-1), 'q to quit, f for peers');
	for (const line of lines) {
		t.true(line.length <= 80, `fits 80 columns: ${line}`);
	}
});

test('more files than rows: as many as fit, and a line counting the rest, those the snapshot left out too', (t) => {
	const count = 50_000;
	const many = fold([
		{
			type: 'started',
			name: 'many',
			infoHash: 'ef'.repeat(20),
			pieceCount: count,
			pieceLength: 1000,
			totalLength: count * 1000,
			files: Array.from({length: count}, (_, index) => ({
				number: index + 1,
				path: `many/${index + 1}.txt`,
				offset: index * 1000,
				length: 1000,
				selected: true,
			})),
			at: 0,
		},
	]);
	const lines = frameOf(many, {rows: 20, list: 'files'});
	t.true(lines.length <= 20, `${lines.length} lines`);
	t.is(lines.filter((line) => /^\d+ +many\//.test(line)).length, 13);
	t.true(lines.includes(`+${count - 13} more`), lines.join('\n'));
});

test('a deep path keeps its top folder and the file name on a narrow terminal', (t) => {
	const deep = fold([
		{
			type: 'started',
			name: 'deep',
			infoHash: '12'.repeat(20),
			pieceCount: 1,
			pieceLength: 16_384,
			totalLength: 10,
			files: [
				{number: 1, path: `top/${'folder/'.repeat(20)}the-name.mkv`, offset: 0, length: 5, selected: true},
				{number: 2, path: 'top/other.txt', offset: 5, length: 5, selected: false},
			],
			at: 0,
		},
	]);
	const row = frameOf(deep, {list: 'files'}).find((line) => line.startsWith('1 '));
	t.regex(row ?? '', /^1 +top\/folder\/.*….*\/the-name\.mkv +5 B +0\.0%$/);
});

test('f switches the live view to the file list and back; q still quits', async (t) => {
	let quits = 0;
	const {stdin, lastFrame, unmount} = render(
		<LiveRunView view={snapshot(selected)} onQuit={() => quits++} />,
	);
	t.teardown(unmount);
	const frame = () => plain(lastFrame());
	await until(() => stdin.listenerCount('readable') > 0, 5000, 'the view listens to its input');
	t.regex(frame(), /^Peer /m);
	stdin.write('f');
	await until(() => /^# +File +Size +Done$/m.test(frame()), 5000, 'f shows the file list');
	t.notRegex(frame(), /^Peer /m);
	t.regex(frame(), /^2 +album\/side-a\.flac +3\.0 MB +16\.6%$/m);
	t.regex(frame(), /q to quit, f for peers$/);
	stdin.write('f');
	await until(() => /^Peer /m.test(frame()), 5000, 'f again shows the peers');
	t.regex(frame(), /q to quit, f for files$/);
	t.is(quits, 0, 'f does not quit');
	stdin.write('q');
	await until(() => quits > 0, 5000, 'q quits');
	t.is(quits, 1);
});
