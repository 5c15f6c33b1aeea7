import {writeFile} from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import type {TimedEvent} from '../../source/events/events.js';
import {runTorrentRx, tempDir} from '../helpers/swarm-fixture.js';

const recorded: TimedEvent[] = [
	{
		type: 'started',
		name: 'replayed.iso',
		infoHash: 'ab'.repeat(20),
		pieceCount: 2,
		pieceLength: 16,
		totalLength: 32,
		at: 5000,
	},
	{type: 'peer-connected', peer: '127.0.0.1:1', peerId: '-XX0001-000000000000', at: 5100},
	{type: 'piece-verified', peer: '127.0.0.1:1', index: 0, bytes: 16, at: 5600},
	{type: 'piece-verified', peer: '127.0.0.1:1', index: 1, bytes: 16, at: 6100},
	{type: 'completed', bytes: 32, at: 6100},
];

test('--replay plays a recorded run into the status view, at --replay-speed, and exits 0', async (t) => {
	t.timeout(30_000);
	const dir = await tempDir(t);
	const log = path.join(dir, 'history.log');
	await writeFile(log, `${recorded.map((event) => JSON.stringify(event)).join('\n')}\n`);
	const started = Date.now();
	const result = await runTorrentRx(t, ['--replay', log, '--replay-speed', '2'], {timeoutMs: 20_000});
	t.is(result.code, 0, result.stderr);
	t.regex(result.stdout, /Downloaded replayed\.iso: 2 pieces of 2 completed\n$/);
	// 1.1 s of recorded run at double speed: at least 0.55 s, whatever the start-up costs.
	t.true(Date.now() - started >= 550);
});

test('--replay of a missing log is one clear line and exit 1', async (t) => {
	t.timeout(30_000);
	const dir = await tempDir(t);
	const result = await runTorrentRx(t, ['--replay', path.join(dir, 'none.log')], {timeoutMs: 20_000});
	t.is(result.code, 1);
	t.regex(result.stderr, /^torrent-rx: cannot read the history log .*none\.log/);
	t.is(result.stderr.trim().split('\n').length, 1);
});
