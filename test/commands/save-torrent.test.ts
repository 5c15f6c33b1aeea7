/**
 * Issue 14 (2.5, 2.12): the .torrent fetched for a magnet link is saved as `<name>.torrent` in
 * the output folder, or `<name>.<hash8>.torrent` when a different file has the plain name. No
 * existing file is ever overwritten, and no link is followed.
 */
import {lstat, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {buildMetainfo} from '../../source/codec/build-metainfo.js';
import {parseMetainfo} from '../../source/codec/metainfo.js';
import {PieceHashes} from '../../source/codec/piece-hashes.js';
import {saveTorrent} from '../../source/commands/run-magnet.js';
import {StorageError} from '../../source/errors.js';

async function folder(t: ExecutionContext): Promise<string> {
	const made = await mkdtemp(path.join(tmpdir(), 'torrent-rx-save-'));
	t.teardown(() => rm(made, {recursive: true, force: true}));
	return made;
}

const bytes = buildMetainfo({
	name: 'album',
	files: [{path: ['album'], length: 5}],
	multiFile: false,
	pieceLength: 16_384,
	pieceHashes: PieceHashes.of([Buffer.alloc(20, 1)]),
	trackers: [],
	private: false,
	createdBy: 'test',
	creationDate: 0,
});
const metainfo = parseMetainfo(bytes);
const hashed = `album.${metainfo.infoHash.toString('hex').slice(0, 8)}.torrent`;

test('saved under the plain name, and again there when the same bytes are already in it', async (t) => {
	const outputDir = await folder(t);
	t.is(await saveTorrent(outputDir, metainfo, bytes), path.join(outputDir, 'album.torrent'));
	t.is(await saveTorrent(outputDir, metainfo, bytes), path.join(outputDir, 'album.torrent'));
	t.deepEqual(await readdir(outputDir), ['album.torrent']);
	t.deepEqual(await readFile(path.join(outputDir, 'album.torrent')), bytes);
});

test('a different file under the plain name is kept: ours takes the hashed name', async (t) => {
	const outputDir = await folder(t);
	await writeFile(path.join(outputDir, 'album.torrent'), 'mine\n');
	t.is(await saveTorrent(outputDir, metainfo, bytes), path.join(outputDir, hashed));
	t.is(await readFile(path.join(outputDir, 'album.torrent'), 'utf8'), 'mine\n');
});

test('different files under both names are both kept, and the save is refused', async (t) => {
	const outputDir = await folder(t);
	await writeFile(path.join(outputDir, 'album.torrent'), 'mine\n');
	await writeFile(path.join(outputDir, hashed), 'mine too\n');
	const error = await t.throwsAsync(saveTorrent(outputDir, metainfo, bytes));
	t.true(error instanceof StorageError, String(error));
	t.is(await readFile(path.join(outputDir, hashed), 'utf8'), 'mine too\n');
	t.deepEqual((await readdir(outputDir)).sort(), [hashed, 'album.torrent'].sort(), 'no temporary file left');
});

test('links at both names are neither followed nor replaced', async (t) => {
	const outputDir = await folder(t);
	const outside = await folder(t);
	const victim = path.join(outside, 'victim');
	// Even a link to the very same bytes is not taken for our file.
	await writeFile(victim, bytes);
	await symlink(victim, path.join(outputDir, 'album.torrent'));
	await symlink(victim, path.join(outputDir, hashed));
	await t.throwsAsync(saveTorrent(outputDir, metainfo, bytes), {instanceOf: StorageError});
	t.deepEqual(await readFile(victim), bytes);
	t.true((await lstat(path.join(outputDir, hashed))).isSymbolicLink());
	t.is(await readlink(path.join(outputDir, 'album.torrent')), victim);
});
