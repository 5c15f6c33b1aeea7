import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import test from 'ava';
import {from, lastValueFrom, toArray} from 'rxjs';
import {TorrentRxError} from '../../source/errors.js';
import type {TimedEvent} from '../../source/events/events.js';
import {readLastRun, recordHistory} from '../../source/events/history-log.js';

async function folder(t: {teardown(fn: () => Promise<void>): void}) {
	const dir = await mkdtemp(path.join(tmpdir(), 'torrent-rx-history-'));
	t.teardown(async () => rm(dir, {recursive: true, force: true}));
	return dir;
}

const run = (name: string, at: number): TimedEvent[] => [
	{type: 'started', name, infoHash: 'ab', pieceCount: 1, pieceLength: 16, totalLength: 16, at},
	{type: 'piece-verified', peer: 'p', index: 0, bytes: 16, at: at + 5},
	{type: 'completed', bytes: 16, at: at + 6},
];

test('records each event as one JSON line, appending, and passes the events on', async (t) => {
	const file = path.join(await folder(t), 'nested', 'history.log');
	const passed = await lastValueFrom(from(run('first', 100)).pipe(recordHistory(file), toArray()));
	t.deepEqual(passed, run('first', 100));
	await lastValueFrom(from(run('second', 200)).pipe(recordHistory(file), toArray()));
	const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
	t.is(lines.length, 6);
	t.deepEqual(JSON.parse(lines[3] ?? ''), run('second', 200)[0]);
});

test('reads back the last run of a log that holds several', async (t) => {
	const file = path.join(await folder(t), 'history.log');
	await writeFile(
		file,
		[...run('first', 100), ...run('second', 200)].map((event) => JSON.stringify(event)).join('\n'),
	);
	t.deepEqual(await readLastRun(file), run('second', 200));
});

test('a line that is not an event is a clear error, naming the line', async (t) => {
	const file = path.join(await folder(t), 'history.log');
	await writeFile(file, `${JSON.stringify(run('x', 1)[0])}\n{"type":"completed"}\n`);
	await t.throwsAsync(readLastRun(file), {
		instanceOf: TorrentRxError,
		message: /line 2 is not a recorded event/,
	});
});

test('a log without a run, or no log at all, is a clear error', async (t) => {
	const dir = await folder(t);
	await writeFile(path.join(dir, 'empty.log'), '\n');
	await t.throwsAsync(readLastRun(path.join(dir, 'empty.log')), {message: /holds no recorded run/});
	await t.throwsAsync(readLastRun(path.join(dir, 'missing.log')), {message: /cannot read the history log/});
});
