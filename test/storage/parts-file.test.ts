import {mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {PartsFile} from '../../source/storage/parts-file.js';

async function temporaryFolder(t: ExecutionContext): Promise<string> {
	const folder = await mkdtemp(path.join(os.tmpdir(), 'torrent-rx-parts-'));
	t.teardown(() => rm(folder, {recursive: true, force: true}));
	return folder;
}

async function readBack(
	parts: PartsFile,
	index: number,
	pieceOffset: number,
	length: number,
): Promise<Buffer> {
	const into = Buffer.alloc(length);
	await parts.read(index, pieceOffset, into, 0, length);
	return into;
}

test('bytes written for a piece read back, after the file is closed and opened again', async (t) => {
	const root = await temporaryFolder(t);
	const file = path.join(root, '.torrent-rx', 'hash.parts');
	const parts = await PartsFile.open(root, file, 10, 1024);
	t.true(parts.empty);
	await parts.write(7, 1000, Buffer.from('the end of piece 7'.slice(0, 24)));
	await parts.write(2, 0, Buffer.from('start of piece 2'));
	await parts.write(7, 0, Buffer.from('piece 7 again'));
	await parts.close();

	const again = await PartsFile.open(root, file, 10, 1024);
	t.false(again.empty);
	t.deepEqual(
		[0, 1, 2, 3, 4, 5, 6, 7, 8, 9].filter((index) => again.has(index)),
		[2, 7],
	);
	t.is((await readBack(again, 7, 1000, 18)).toString(), 'the end of piece 7');
	t.is((await readBack(again, 7, 0, 13)).toString(), 'piece 7 again');
	t.is((await readBack(again, 2, 0, 16)).toString(), 'start of piece 2');
	await t.throwsAsync(readBack(again, 3, 0, 1), {message: /piece 3 is not in the parts file/});
	await again.close();
	// Two slots in use, each a piece long after the 4 KiB-aligned header: piece 2's slot is the second.
	t.is((await stat(file)).size, 4096 + 1024 + 16);
});

test('a parts file of another shape, or not ours, is started over at the first write', async (t) => {
	const root = await temporaryFolder(t);
	const file = path.join(root, 'x.parts');
	const first = await PartsFile.open(root, file, 10, 1024);
	await first.write(1, 0, Buffer.from('kept'));
	await first.close();

	const otherShape = await PartsFile.open(root, file, 11, 1024);
	t.true(otherShape.empty);
	await otherShape.close();

	await writeFile(file, 'not a parts file at all, but something of the user');
	const foreign = await PartsFile.open(root, file, 10, 1024);
	t.true(foreign.empty);
	await foreign.write(3, 4, Buffer.from('new'));
	await foreign.close();
	const bytes = await readFile(file);
	t.is(bytes.subarray(0, 8).toString(), 'TRXPARTS');
	const reopened = await PartsFile.open(root, file, 10, 1024);
	t.false(reopened.has(1));
	t.is((await readBack(reopened, 3, 4, 3)).toString(), 'new');
	await reopened.close();
});

test('a slot entry that points past any slot a torrent can need is not followed', async (t) => {
	const root = await temporaryFolder(t);
	const file = path.join(root, 'x.parts');
	const parts = await PartsFile.open(root, file, 4, 64);
	await parts.write(0, 0, Buffer.from('a'));
	await parts.close();
	const bytes = await readFile(file);
	// The table begins after the 24-byte header: piece 1's entry points at slot 1,000,000.
	bytes.writeUInt32BE(1_000_000, 24 + 4);
	await writeFile(file, bytes);
	const reopened = await PartsFile.open(root, file, 4, 64);
	t.true(reopened.has(0));
	t.false(reopened.has(1));
	await reopened.close();
});

test('removed, the file is gone and nothing is held', async (t) => {
	const root = await temporaryFolder(t);
	const file = path.join(root, 'x.parts');
	const parts = await PartsFile.open(root, file, 4, 64);
	await parts.write(2, 0, Buffer.from('a'));
	await parts.remove();
	t.true(parts.empty);
	await t.throwsAsync(stat(file), {code: 'ENOENT'});
});
