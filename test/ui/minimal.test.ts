import test from 'ava';
import {initialRunState, type RunState} from '../../source/events/run-state.js';
import {minimalView, statusLine} from '../../source/ui/minimal.js';
import {testScheduler} from '../helpers/marbles.js';

const downloading: RunState = {
	...initialRunState,
	name: 'NAME',
	pieceCount: 1340,
	piecesDone: 12,
	connectedPeers: 8,
	downloadRate: 41_200_000,
	phase: 'downloading',
};

test('the status line reads like the original client', (t) => {
	t.is(statusLine(downloading), 'Downloading NAME: 12 pieces of 1340 completed (8 peers) 41.2 MB/s');
	t.is(
		statusLine({...downloading, phase: 'completed', piecesDone: 1340}),
		'Downloaded NAME: 1340 pieces of 1340 completed',
	);
	t.regex(statusLine({...downloading, phase: 'starving'}), /^Waiting for peers for NAME/);
});

test('with some files selected, the line says which share of the torrent it is about', (t) => {
	const selected: RunState = {
		...downloading,
		selection: {files: 3, ofFiles: 12, bytes: 1_400_000_000, ofBytes: 9_800_000_000, done: 0},
	};
	t.is(
		statusLine(selected),
		'Downloading NAME (3 of 12 files, 1.4 GB of 9.8 GB): 12 pieces of 1340 completed (8 peers) 41.2 MB/s',
	);
	t.is(
		statusLine({...selected, phase: 'completed'}),
		'Downloaded NAME (3 of 12 files, 1.4 GB of 9.8 GB): 12 pieces of 1340 completed',
	);
	t.regex(
		statusLine({...selected, phase: 'seeding'}),
		/^Seeding NAME \(3 of 12 files, 1\.4 GB of 9\.8 GB\): uploaded /,
	);
});

test('a name with terminal escapes is shown printable', (t) => {
	const line = statusLine({...downloading, name: 'a\u001B[2J\u001B]0;x\u0007b\u009B\u202Ec'});
	t.is(line, 'Downloading a [2J ]0;x b  c: 12 pieces of 1340 completed (8 peers) 41.2 MB/s');
});

test('on a terminal, rewrites one line at most every 200 ms and ends it with the final state', (t) => {
	testScheduler(t).run(({hot, expectObservable}) => {
		const a = {...downloading, piecesDone: 1};
		const b = {...downloading, piecesDone: 2};
		const c = {...downloading, piecesDone: 3, phase: 'completed' as const};
		const states = hot<RunState>('a 99ms b 149ms c|', {a, b, c});
		expectObservable(minimalView(states, {interactive: true})).toBe('200ms x 50ms (y|)', {
			x: `\r\u001B[2K${statusLine(b)}`,
			y: `\r\u001B[2K${statusLine(c)}\n`,
		});
	});
});

test('in a pipe, prints plain lines every 5 s only when they changed, and always the final one', (t) => {
	testScheduler(t).run(({hot, expectObservable}) => {
		const a = {...downloading, piecesDone: 1};
		const c = {...downloading, piecesDone: 3, phase: 'completed' as const};
		const states = hot<RunState>('a 11s c|', {a, c});
		expectObservable(minimalView(states, {interactive: false})).toBe('5s x 6001ms (y|)', {
			x: `${statusLine(a)}\n`,
			y: `${statusLine(c)}\n`,
		});
	});
});

test('in a pipe, a check done, the completion and seeding each print their line at once', (t) => {
	testScheduler(t).run(({hot, expectObservable}) => {
		const started = {...downloading, piecesDone: 0, downloadRate: 0, connectedPeers: 0};
		const checked = {...started, piecesDone: 12, milestones: 1};
		const done = {...started, piecesDone: 1340, phase: 'completed' as const, milestones: 2};
		const seeding = {...done, phase: 'seeding' as const, milestones: 3};
		const uploading = {...seeding, bytesUploaded: 5000};
		// Completed and seeding within the first five seconds: no sample falls between them.
		const states = hot<RunState>('a 99ms k 899ms c 99ms s 9s u 10s |', {
			a: started,
			k: checked,
			c: done,
			s: seeding,
			u: uploading,
		});
		expectObservable(minimalView(states, {interactive: false})).toBe(
			'100ms k 899ms c 99ms s 13899ms u 5101ms |',
			{
				k: `${statusLine(checked)}\n`,
				c: `${statusLine(done)}\n`,
				s: `${statusLine(seeding)}\n`,
				u: `${statusLine(uploading)}\n`,
			},
		);
	});
});
