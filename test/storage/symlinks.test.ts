import {lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import type {FileEntry} from '../../source/codec/metainfo.js';
import {linkTargetText} from '../../source/codec/symlink-path.js';
import {makeSymlinks, type SkippedLink} from '../../source/storage/symlinks.js';

async function folder(t: ExecutionContext): Promise<string> {
	const made = await mkdtemp(path.join(tmpdir(), 'torrent-rx-links-'));
	t.teardown(() => rm(made, {recursive: true, force: true}));
	return made;
}

/** A link of the torrent `album` at `where` (below `album/`) to `target` (below `album/` too). */
const link = (where: string, ...target: string[]): FileEntry => ({
	path: ['album', ...where.split('/')],
	length: 0,
	offset: 0,
	attributes: 'l',
	symlinkTarget: target,
});

/**
 * The output folder with the torrent's regular files made (`album/a.txt`, `album/sub/b.txt`),
 * and beside it a folder of its own that no link may reach (`outside/secret`).
 */
async function setup(t: ExecutionContext) {
	const outputDir = await folder(t);
	const outside = await folder(t);
	await mkdir(path.join(outputDir, 'album', 'sub'), {recursive: true});
	await writeFile(path.join(outputDir, 'album', 'a.txt'), 'a');
	await writeFile(path.join(outputDir, 'album', 'sub', 'b.txt'), 'b');
	await writeFile(path.join(outside, 'secret'), 'secret');
	const at = (where: string) => path.join(outputDir, 'album', ...where.split('/'));
	return {outputDir, outside, at};
}

/** What is at `file` without following it: a link's text, `file`, `folder` or nothing. */
async function whatIsAt(file: string): Promise<string | undefined> {
	const stats = await lstat(file).catch(() => undefined);
	return !stats
		? undefined
		: stats.isSymbolicLink()
			? `-> ${await readlink(file)}`
			: stats.isDirectory()
				? 'folder'
				: 'file';
}

type Made = Array<[where: string, target: string[], expected: string]>;

const madeLinks: Made = [
	['beside', ['a.txt'], '-> a.txt'],
	['sub/up', ['a.txt'], '-> ../a.txt'],
	['sub/beside', ['sub', 'b.txt'], '-> b.txt'],
	['to-folder', ['sub'], '-> sub'],
	['new/deeper/l', ['sub', 'b.txt'], '-> ../../sub/b.txt'],
	['dangling', ['not', 'in', 'torrent'], '-> not/in/torrent'],
];

test('links whose targets stay in the torrent folder are made, relative, and lead where the torrent says', async (t) => {
	const {outputDir, at} = await setup(t);
	const skipped = await makeSymlinks(
		outputDir,
		madeLinks.map(([where, target]) => link(where, ...target)),
	);
	t.deepEqual(skipped, []);
	for (const [where, , expected] of madeLinks) {
		t.is(await whatIsAt(at(where)), expected, where);
	}

	t.is(await readFile(at('sub/up'), 'utf8'), 'a');
	t.is(await readFile(at('new/deeper/l'), 'utf8'), 'b');
	t.deepEqual((await readdir(at('to-folder'))).sort(), ['b.txt', 'beside', 'up']);
});

type Skipped = Array<
	[
		what: string,
		entry: FileEntry,
		reason: RegExp,
		before?: (at: (where: string) => string, outside: string) => Promise<void>,
	]
>;

const skippedLinks: Skipped = [
	['a `../../etc/passwd` target', link('l', '..', '..', 'etc', 'passwd'), /outside the torrent's folder/],
	['a `..` target, to the output folder', link('l', '..'), /outside the torrent's folder/],
	['an absolute target', link('l', '/etc/passwd'), /outside the torrent's folder/],
	['a target that is the link itself', link('l', 'l'), /the link itself/],
	['a target below the link itself', link('l', 'l', 'x'), /the link itself/],
	[
		'a target through a link already there that leads out',
		link('l', 'planted', 'secret'),
		/leads out of the torrent's folder through a link/,
		(at, outside) => symlink(outside, at('planted')),
	],
	[
		'a target through a relative link already there that leads out',
		link('l', 'sub', 'planted', 'secret'),
		/leads out of the torrent's folder through a link/,
		(at) => symlink('../../..', at('sub/planted')),
	],
	[
		'a target through a link already there that leads nowhere outside',
		link('l', 'planted'),
		/leads out of the torrent's folder through a link/,
		(at, outside) => symlink(path.join(outside, 'not-yet'), at('planted')),
	],
	[
		'a target through a loop of links',
		link('l', 'loop1', 'x'),
		/loop of links/,
		async (at) => {
			await symlink('loop2', at('loop1'));
			await symlink('loop1', at('loop2'));
		},
	],
	['a target through a file', link('l', 'a.txt', 'x'), /goes through a file/],
	['a file at its place', link('a.txt', 'sub'), /a file is already at its place/],
	['a folder at its place', link('sub', 'a.txt'), /a folder is already at its place/],
	[
		'another link at its place',
		link('l', 'a.txt'),
		/another link is already at its place/,
		(at) => symlink('sub/b.txt', at('l')),
	],
	[
		'a place in a folder that is a link leading out',
		link('away/l', 'a.txt'),
		/refusing to write through a link that leaves the output folder/,
		(at, outside) => symlink(outside, at('away')),
	],
	[
		'a link of a single-file torrent',
		{path: ['album'], length: 0, offset: 0, symlinkTarget: ['x']},
		/single-file torrent/,
	],
];

for (const [what, entry, reason, before] of skippedLinks) {
	test(`a link is skipped, with its reason, for ${what}`, async (t) => {
		const {outputDir, outside, at} = await setup(t);
		await before?.(at, outside);
		const place = path.join(outputDir, ...entry.path);
		const was = await whatIsAt(place);
		const skipped = await makeSymlinks(outputDir, [entry]);
		t.deepEqual(
			skipped.map(({path, target}) => ({path, target})),
			[{path: entry.path.join('/'), target: linkTargetText(entry)}],
		);
		t.regex(skipped[0]?.reason ?? '', reason);
		t.is(await whatIsAt(place), was, 'what was at its place is left alone');
		t.deepEqual(await readdir(outside), ['secret'], 'nothing is made outside');
		t.is(await readFile(path.join(outside, 'secret'), 'utf8'), 'secret');
	});
}

test('a run again over the same folder makes nothing new and skips the same links: links to links too', async (t) => {
	const {outputDir, at} = await setup(t);
	const files = [
		// `first` leads through `second`, which the first run makes after it.
		link('first', 'second'),
		link('second', 'sub', 'b.txt'),
		link('sub/up', 'a.txt'),
		link('bad', '..', 'x'),
		link('a.txt', 'sub'),
	];
	const once = await makeSymlinks(outputDir, files);
	const twice = await makeSymlinks(outputDir, files);
	t.deepEqual(twice, once);
	t.deepEqual(
		once.map((skip: SkippedLink) => skip.path),
		['album/bad', 'album/a.txt'],
	);
	t.is(await whatIsAt(at('first')), '-> second');
	t.is(await whatIsAt(at('second')), '-> sub/b.txt');
	t.is(await readFile(at('first'), 'utf8'), 'b');
	t.is(await whatIsAt(at('sub/up')), '-> ../a.txt');
});

test('pad files and regular files are no business of links', async (t) => {
	const {outputDir, at} = await setup(t);
	const skipped = await makeSymlinks(outputDir, [
		{...link('pad', 'a.txt'), pad: true},
		{path: ['album', 'a.txt'], length: 1, offset: 0},
	]);
	t.deepEqual(skipped, []);
	t.is(await whatIsAt(at('pad')), undefined);
	t.is(await whatIsAt(at('a.txt')), 'file');
});
