/**
 * Issue 14 (2.5): the DHT's routing table is saved to `.torrent-rx/dht.json` when the node
 * leaves. Links planted in the output folder (the state folder, the file, its temporary name)
 * must not carry that write outside it.
 */
import {mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {firstValueFrom, take, timeout} from 'rxjs';
import {openDht} from '../../source/peer/dht.js';

async function folder(t: ExecutionContext, prefix: string): Promise<string> {
	const made = await mkdtemp(path.join(tmpdir(), prefix));
	t.teardown(() => rm(made, {recursive: true, force: true}));
	return made;
}

/** Joins a DHT without bootstrap nodes on 127.0.0.1 and leaves it at once, saving its state. */
async function joinAndLeave(stateFile: string): Promise<void> {
	await firstValueFrom(
		openDht({port: 0, host: '127.0.0.1', bootstrap: [], stateFile}).pipe(take(1), timeout(10_000)),
	);
}

async function setup(t: ExecutionContext) {
	const outputDir = await folder(t, 'torrent-rx-dht-out-');
	const outside = await folder(t, 'torrent-rx-dht-outside-');
	const victim = path.join(outside, 'victim');
	await writeFile(victim, 'do not touch\n');
	return {outputDir, outside, victim, stateFile: path.join(outputDir, '.torrent-rx', 'dht.json')};
}

test('the state is saved to dht.json and read back', async (t) => {
	const {stateFile} = await setup(t);
	await joinAndLeave(stateFile);
	t.deepEqual(JSON.parse(await readFile(stateFile, 'utf8')), {nodes: []});
	t.deepEqual(await readdir(path.dirname(stateFile)), ['dht.json'], 'no temporary file left');
});

test('a link planted at the temporary name is not written through', async (t) => {
	const {stateFile, victim} = await setup(t);
	await mkdir(path.dirname(stateFile));
	await symlink(victim, `${stateFile}.tmp`);
	await joinAndLeave(stateFile);
	t.is(await readFile(victim, 'utf8'), 'do not touch\n');
});

test('a link planted at dht.json is replaced, not followed', async (t) => {
	const {stateFile, victim} = await setup(t);
	await mkdir(path.dirname(stateFile));
	await symlink(victim, stateFile);
	await joinAndLeave(stateFile);
	t.is(await readFile(victim, 'utf8'), 'do not touch\n');
});

test('a state folder that is a link to outside the output folder is not written into', async (t) => {
	const {stateFile, outside} = await setup(t);
	await symlink(outside, path.dirname(stateFile));
	await joinAndLeave(stateFile);
	t.deepEqual(await readdir(outside), ['victim']);
});
