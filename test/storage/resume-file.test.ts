import {
	lstat,
	mkdir,
	mkdtemp,
	readdir,
	readFile,
	rename,
	rm,
	stat,
	symlink,
	utimes,
	writeFile,
} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import process from 'node:process';
import test from 'ava';
import {firstValueFrom} from 'rxjs';
import {Bitfield} from '../../source/codec/bitfield.js';
import {StorageLayout} from '../../source/storage/layout.js';
import {rememberedSelection, resumeFile} from '../../source/storage/resume-file.js';

const infoHash = Buffer.alloc(20, 0xab);
const layout = new StorageLayout(
	[
		{path: ['album', 'a.bin'], length: 40_000, offset: 0},
		{path: ['album', 'b.bin'], length: 30_000, offset: 40_000},
	],
	16_384,
);

async function setup(t: {teardown(fn: () => Promise<void>): void}) {
	const folder = await mkdtemp(path.join(tmpdir(), 'torrent-rx-resume-'));
	t.teardown(async () => rm(folder, {recursive: true, force: true}));
	await mkdir(path.join(folder, 'album'));
	await writeFile(path.join(folder, 'album', 'a.bin'), Buffer.alloc(40_000, 1));
	await writeFile(path.join(folder, 'album', 'b.bin'), Buffer.alloc(30_000, 2));
	const have = new Bitfield(layout.pieceCount);
	have.set(0);
	have.set(3);
	return {folder, have, store: resumeFile(folder, infoHash, layout)};
}

test('round trip: what was saved is loaded while the files are untouched', async (t) => {
	const {store, have, folder} = await setup(t);
	await firstValueFrom(store.save(have), {defaultValue: undefined});
	const loaded = await firstValueFrom(store.load());
	t.deepEqual(loaded?.bytes, have.bytes);
	t.deepEqual(
		await readdir(path.join(folder, '.torrent-rx')),
		[`${'ab'.repeat(20)}.resume`],
		'no temporary file left',
	);
});

test('no resume file: nothing is trusted', async (t) => {
	const {store} = await setup(t);
	t.is(await firstValueFrom(store.load()), undefined);
});

test('a file written after the save (a newer modification time) invalidates it', async (t) => {
	const {store, have, folder} = await setup(t);
	await firstValueFrom(store.save(have), {defaultValue: undefined});
	const later = new Date(Date.now() + 60_000);
	await utimes(path.join(folder, 'album', 'b.bin'), later, later);
	t.is(await firstValueFrom(store.load()), undefined);
});

test('a file of another size invalidates it', async (t) => {
	const {store, have, folder} = await setup(t);
	await firstValueFrom(store.save(have), {defaultValue: undefined});
	await writeFile(path.join(folder, 'album', 'a.bin'), Buffer.alloc(10, 1));
	t.is(await firstValueFrom(store.load()), undefined);
});

for (const [what, content] of [
	['truncated JSON', '{"version":1,"infoHash":'],
	[
		'another torrent',
		JSON.stringify({version: 1, infoHash: '00'.repeat(20), pieceCount: 5, have: '', files: []}),
	],
	[
		'a bitfield of the wrong size',
		JSON.stringify({version: 1, infoHash: 'ab'.repeat(20), pieceCount: 5, have: 'AAAA', files: []}),
	],
	['garbage', '\u0000\u0001binary'],
] as const) {
	test(`a corrupt resume file (${what}) is ignored, not trusted`, async (t) => {
		const {store, folder} = await setup(t);
		await mkdir(path.join(folder, '.torrent-rx'));
		await writeFile(path.join(folder, '.torrent-rx', `${'ab'.repeat(20)}.resume`), content);
		t.is(await firstValueFrom(store.load()), undefined);
	});
}

test('a resume file with spare bits set in its bitfield is ignored, even with matching files', async (t) => {
	const {store, folder} = await setup(t);
	const files = await Promise.all(
		['a.bin', 'b.bin'].map(async (name) => {
			const stats = await stat(path.join(folder, 'album', name));
			return {size: stats.size, mtimeMs: stats.mtimeMs};
		}),
	);
	const resume = (have: number) =>
		JSON.stringify({
			version: 1,
			infoHash: 'ab'.repeat(20),
			pieceCount: 5,
			have: Buffer.from([have]).toString('base64'),
			files,
		});
	await mkdir(path.join(folder, '.torrent-rx'));
	const file = path.join(folder, '.torrent-rx', `${'ab'.repeat(20)}.resume`);
	// The same file with a clean bitfield is trusted: only the spare bits make the difference.
	await writeFile(file, resume(0b1000_1000));
	t.is((await firstValueFrom(store.load()))?.count, 2);
	await writeFile(file, resume(0b1000_1111));
	t.is(await firstValueFrom(store.load()), undefined);
});

/**
 * Issue 14 (2.5): the temporary name was the process id and a counter, so anyone who can write
 * to the output folder could plant a link there in advance, and the save wrote through it.
 */
test('links planted at the resume file and at its old temporary names are not written through', async (t) => {
	const {store, have, folder} = await setup(t);
	const outside = await mkdtemp(path.join(tmpdir(), 'torrent-rx-outside-'));
	t.teardown(async () => rm(outside, {recursive: true, force: true}));
	const victim = path.join(outside, 'victim');
	await writeFile(victim, 'do not touch\n');
	const resume = path.join(folder, '.torrent-rx', `${'ab'.repeat(20)}.resume`);
	await mkdir(path.dirname(resume));
	for (let save = 0; save < 4; save++) {
		await symlink(victim, `${resume}.${process.pid}.${save}.tmp`);
	}

	await symlink(victim, resume);
	await firstValueFrom(store.save(have), {defaultValue: undefined});
	t.is(await readFile(victim, 'utf8'), 'do not touch\n');
	t.false((await lstat(resume)).isSymbolicLink(), 'the link was replaced by the resume file');
	t.deepEqual((await firstValueFrom(store.load()))?.bytes, have.bytes);
});

test('a resume file that is a link is not read', async (t) => {
	const {store, have, folder} = await setup(t);
	await firstValueFrom(store.save(have), {defaultValue: undefined});
	const resume = path.join(folder, '.torrent-rx', `${'ab'.repeat(20)}.resume`);
	await rename(resume, path.join(folder, 'elsewhere.resume'));
	await symlink(path.join(folder, 'elsewhere.resume'), resume);
	t.is(await firstValueFrom(store.load()), undefined);
});

test('a file gone since the save is no reason to distrust the others: its pieces are judged by the store', async (t) => {
	const {store, have, folder} = await setup(t);
	await firstValueFrom(store.save(have), {defaultValue: undefined});
	await rm(path.join(folder, 'album', 'b.bin'));
	t.deepEqual((await firstValueFrom(store.load()))?.bytes, have.bytes);
});

test('a file there now that was not at the save invalidates it, unless the store made it just now', async (t) => {
	const {store, have, folder} = await setup(t);
	await rm(path.join(folder, 'album', 'b.bin'));
	await firstValueFrom(store.save(have), {defaultValue: undefined});
	await writeFile(path.join(folder, 'album', 'b.bin'), Buffer.alloc(30_000, 9));
	t.is(await firstValueFrom(store.load()), undefined);
	t.deepEqual((await firstValueFrom(store.load([false, true])))?.bytes, have.bytes);
});

test('the parts file is compared as the payload files are', async (t) => {
	const {have, folder} = await setup(t);
	const partsFile = path.join(folder, '.torrent-rx', 'x.parts');
	await mkdir(path.dirname(partsFile), {recursive: true});
	await writeFile(partsFile, 'slots');
	const store = resumeFile(folder, infoHash, layout, {partsFile});
	await firstValueFrom(store.save(have), {defaultValue: undefined});
	t.deepEqual((await firstValueFrom(store.load()))?.bytes, have.bytes);
	await writeFile(partsFile, 'other slots');
	t.is(await firstValueFrom(store.load()), undefined);
});

test('the selection is remembered for a next run that names none; every file is none remembered', async (t) => {
	const {have, folder} = await setup(t);
	t.is(await rememberedSelection(folder, infoHash, layout), undefined);
	await firstValueFrom(resumeFile(folder, infoHash, layout, {selected: [false, true]}).save(have), {
		defaultValue: undefined,
	});
	t.deepEqual(await rememberedSelection(folder, infoHash, layout), [false, true]);
	await firstValueFrom(resumeFile(folder, infoHash, layout, {selected: [true, true]}).save(have), {
		defaultValue: undefined,
	});
	t.is(await rememberedSelection(folder, infoHash, layout), undefined);
});

test('a remembered selection naming files the torrent does not have is ignored', async (t) => {
	const {folder} = await setup(t);
	const file = path.join(folder, '.torrent-rx', `${'ab'.repeat(20)}.resume`);
	await mkdir(path.dirname(file), {recursive: true});
	const data = {
		version: 1,
		infoHash: 'ab'.repeat(20),
		pieceCount: layout.pieceCount,
		have: 'AA==',
		files: [],
	};
	for (const unselected of [[7], [-1], ['0'], [0, 1]]) {
		await writeFile(file, JSON.stringify({...data, unselected}));
		t.is(await rememberedSelection(folder, infoHash, layout), undefined, JSON.stringify(unselected));
	}
});

test('pad files and links (BEP 47), with nothing on disk at their place, neither stop a save nor spoil the load', async (t) => {
	const {folder} = await setup(t);
	const withNothingThere = new StorageLayout(
		[
			{path: ['album', 'a.bin'], length: 40_000, offset: 0},
			{path: ['album', '.pad', '1'], length: 9_152, offset: 40_000, attributes: 'p', pad: true},
			{
				path: ['album', 'skipped-link'],
				length: 0,
				offset: 49_152,
				attributes: 'l',
				symlinkTarget: ['..', 'x'],
			},
			{path: ['album', 'b.bin'], length: 30_000, offset: 49_152},
		],
		16_384,
	);
	const store = resumeFile(folder, infoHash, withNothingThere);
	const have = new Bitfield(withNothingThere.pieceCount);
	have.set(1);
	have.set(4);
	await firstValueFrom(store.save(have), {defaultValue: undefined});
	t.deepEqual((await firstValueFrom(store.load()))?.bytes, have.bytes);
});
