import {constants} from 'node:fs';
import {mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {StorageError} from '../../source/errors.js';
import {createInside, openInside, replaceInside, replaceInsideSync} from '../../source/storage/own-files.js';

async function folder(t: ExecutionContext): Promise<string> {
	const made = await mkdtemp(path.join(tmpdir(), 'torrent-rx-own-'));
	t.teardown(() => rm(made, {recursive: true, force: true}));
	return made;
}

async function setup(t: ExecutionContext) {
	const root = await folder(t);
	const outside = await folder(t);
	const victim = path.join(outside, 'victim');
	await writeFile(victim, 'do not touch\n');
	return {root, outside, victim};
}

test('a path that climbs out of the root is refused', async (t) => {
	const {root} = await setup(t);
	await t.throwsAsync(openInside(root, path.join(root, '..', 'x'), constants.O_RDWR | constants.O_CREAT), {
		instanceOf: StorageError,
		message: /outside the output folder/,
	});
});

test('a link at the name is refused for every kind of open', async (t) => {
	const {root, victim} = await setup(t);
	await symlink(victim, path.join(root, 'file'));
	for (const flags of [constants.O_RDONLY, constants.O_RDWR, constants.O_RDWR | constants.O_CREAT]) {
		await t.throwsAsync(openInside(root, path.join(root, 'file'), flags), {
			instanceOf: StorageError,
			message: /through a link/,
		});
	}

	t.is(await readFile(victim, 'utf8'), 'do not touch\n');
});

test('a folder on the way that leads outside is refused, even for an open that creates nothing', async (t) => {
	const {root, outside} = await setup(t);
	await symlink(outside, path.join(root, 'sub'));
	await t.throwsAsync(openInside(root, path.join(root, 'sub', 'victim'), constants.O_RDWR), {
		instanceOf: StorageError,
		message: /through a link/,
	});
});

test('replacing goes through a fresh temporary file and replaces a link instead of following it', async (t) => {
	const {root, victim} = await setup(t);
	const file = path.join(root, '.torrent-rx', 'state.json');
	await mkdir(path.dirname(file));
	await symlink(victim, file);
	await replaceInside(root, file, 'one');
	t.is(await readFile(file, 'utf8'), 'one');
	replaceInsideSync(root, file, 'two');
	t.is(await readFile(file, 'utf8'), 'two');
	t.is(await readFile(victim, 'utf8'), 'do not touch\n');
	t.deepEqual(await readdir(path.dirname(file)), ['state.json'], 'no temporary file left');
});

test('creating never replaces what is there, not even a link', async (t) => {
	const {root, victim} = await setup(t);
	await writeFile(path.join(root, 'taken'), 'mine\n');
	await symlink(victim, path.join(root, 'linked'));
	t.false(await createInside(root, path.join(root, 'taken'), 'ours'));
	t.false(await createInside(root, path.join(root, 'linked'), 'ours'));
	t.true(await createInside(root, path.join(root, 'free'), 'ours'));
	t.is(await readFile(path.join(root, 'taken'), 'utf8'), 'mine\n');
	t.is(await readFile(victim, 'utf8'), 'do not touch\n');
	t.deepEqual((await readdir(root)).sort(), ['free', 'linked', 'taken']);
});
