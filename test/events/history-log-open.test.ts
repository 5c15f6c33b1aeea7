/**
 * Issue 14 (2.5): the history log (by default `<output folder>/history.log`) is opened for
 * appending; a link planted at its name must not be followed, and something that is not a
 * regular file (a FIFO would block the open) is refused.
 */
import {execFileSync} from 'node:child_process';
import {mkdtemp, readFile, rm, symlink, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {lastValueFrom, of, timeout} from 'rxjs';
import {StorageError} from '../../source/errors.js';
import type {TimedEvent} from '../../source/events/events.js';
import {recordHistory} from '../../source/events/history-log.js';

async function folder(t: ExecutionContext, prefix: string): Promise<string> {
	const made = await mkdtemp(path.join(tmpdir(), prefix));
	t.teardown(() => rm(made, {recursive: true, force: true}));
	return made;
}

const event = {type: 'started', time: 0} as unknown as TimedEvent;

test('a link planted at the history log is not written through', async (t) => {
	const outputDir = await folder(t, 'torrent-rx-log-out-');
	const outside = await folder(t, 'torrent-rx-log-outside-');
	const victim = path.join(outside, 'victim');
	await writeFile(victim, 'do not touch\n');
	await symlink(victim, path.join(outputDir, 'history.log'));
	const error = await t.throwsAsync(
		lastValueFrom(of(event).pipe(recordHistory(path.join(outputDir, 'history.log')), timeout(5000))),
	);
	t.true(error instanceof StorageError, String(error));
	t.regex(error?.message ?? '', /refusing to write the log through a link/);
	t.is(await readFile(victim, 'utf8'), 'do not touch\n');
});

test('a FIFO at the history log is refused, not waited on', async (t) => {
	const outputDir = await folder(t, 'torrent-rx-log-out-');
	const file = path.join(outputDir, 'history.log');
	execFileSync('mkfifo', [file]);
	const error = await t.throwsAsync(lastValueFrom(of(event).pipe(recordHistory(file), timeout(5000))));
	t.regex(error?.message ?? '', /not a regular file/);
});

test('a regular history log is appended to', async (t) => {
	const outputDir = await folder(t, 'torrent-rx-log-out-');
	const file = path.join(outputDir, 'sub', 'history.log');
	await lastValueFrom(of(event).pipe(recordHistory(file)));
	await lastValueFrom(of(event).pipe(recordHistory(file)));
	t.is(await readFile(file, 'utf8'), `${JSON.stringify(event)}\n`.repeat(2));
});
