import {
	mkdir,
	mkdtemp,
	readdir,
	readFile,
	readlink,
	rm,
	stat,
	symlink,
	truncate,
	writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {concat, defer, firstValueFrom, forkJoin, lastValueFrom, type Observable, of, toArray} from 'rxjs';
import type {FileEntry} from '../../source/codec/metainfo.js';
import {StorageError} from '../../source/errors.js';
import {withResource} from '../../source/rx/with-resource.js';
import {AlignedAllocator} from '../../source/storage/aligned-memory.js';
import {openPieceStore, type PieceStore} from '../../source/storage/disk.js';
import {StorageLayout} from '../../source/storage/layout.js';

/** A fresh folder under the system temp folder, removed when the test ends. */
async function temporaryFolder(t: ExecutionContext): Promise<string> {
	const folder = await mkdtemp(path.join(os.tmpdir(), 'torrent-rx-disk-'));
	t.teardown(() => rm(folder, {recursive: true, force: true}));
	return folder;
}

function layoutOf(
	pieceLength: number,
	...entries: Array<[length: number, ...path: string[]]>
): StorageLayout {
	let offset = 0;
	const files = entries.map(([length, ...components]): FileEntry => {
		const file = {path: components, length, offset};
		offset += length;
		return file;
	});
	return new StorageLayout(files, pieceLength);
}

/** Deterministic, non-repeating-looking payload bytes. */
function payloadOf(length: number): Buffer {
	const payload = Buffer.alloc(length);
	for (let index = 0; index < length; index++) {
		payload.writeUInt8((index * 31 + 7) % 256, index);
	}

	return payload;
}

function pieceOf(layout: StorageLayout, payload: Buffer, index: number): Buffer {
	const start = index * layout.pieceLength;
	return payload.subarray(start, start + layout.pieceSize(index));
}

/** Opens the store, runs `use`, and releases the files when `use` completes. */
function withStore<T>(layout: StorageLayout, root: string, use: (store: PieceStore) => Observable<T>) {
	return lastValueFrom(withResource(openPieceStore(layout, root), use).pipe(toArray()));
}

/** The files of this process's open descriptors that lie under `folder` (Linux /proc). */
async function openFilesUnder(folder: string): Promise<string[]> {
	const descriptors = await readdir('/proc/self/fd');
	const targets = await Promise.all(
		descriptors.map(async (fd) => readlink(path.join('/proc/self/fd', fd)).catch(() => '')),
	);
	return targets.filter((target) => target.startsWith(`${folder}${path.sep}`));
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 2000): Promise<boolean> {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (await check()) {
			return true;
		}

		await new Promise((resolve) => {
			setTimeout(resolve, 10);
		});
	}

	return check();
}

// Files: 7 + 0 + 20 + 3 + 0 = 30 bytes in pieces of 8: piece 0 spans 0..7 + 20 (a folder apart),
// piece 2 spans the tail of the 20-byte file and the 3-byte one, the empty files sit first-ish and last.
const nestedLayout = () =>
	layoutOf(
		8,
		[7, 'album', 'a.txt'],
		[0, 'album', 'empty', 'zero.bin'],
		[20, 'album', 'disc 1', 'deep', 'b.flac'],
		[3, 'album', 'c'],
		[0, 'album', 'last-empty'],
	);

test('creates every file at its exact length, nested folders and zero-length files included', async (t) => {
	const root = await temporaryFolder(t);
	const layout = nestedLayout();
	const store = await withStore(layout, root, () => defer(async () => 'opened'));
	t.deepEqual(store, ['opened']);
	for (const file of layout.files) {
		const info = await stat(path.join(root, ...file.path));
		t.true(info.isFile(), file.path.join('/'));
		t.is(info.size, file.length, file.path.join('/'));
	}

	t.deepEqual((await readdir(path.join(root, 'album'))).sort(), [
		'a.txt',
		'c',
		'disc 1',
		'empty',
		'last-empty',
	]);
});

test('written pieces read back, and the files concatenate to the payload', async (t) => {
	const root = await temporaryFolder(t);
	const layout = nestedLayout();
	const payload = payloadOf(layout.totalLength);
	t.true(layout.spans(0).length > 1, 'piece 0 spans files, so the test covers a cross-file write');
	const readBack = await withStore(layout, root, (store) =>
		concat(
			...Array.from({length: layout.pieceCount}, (_, index) =>
				store.writePiece(index, pieceOf(layout, payload, index)),
			),
			defer(() => forkJoin(Array.from({length: layout.pieceCount}, (_, index) => store.readPiece(index)))),
		),
	);
	const pieces = readBack.at(-1) as Buffer[];
	t.is(pieces.length, layout.pieceCount);
	for (const [index, piece] of pieces.entries()) {
		t.deepEqual(piece, pieceOf(layout, payload, index), `piece ${index}`);
	}

	const onDisk = await Promise.all(layout.files.map((file) => readFile(path.join(root, ...file.path))));
	t.deepEqual(Buffer.concat(onDisk), payload);
	t.deepEqual(onDisk[0], payload.subarray(0, 7));
	t.deepEqual(onDisk[2], payload.subarray(7, 27));
	t.deepEqual(onDisk[3], payload.subarray(27, 30));
});

/** Whether one of this process's descriptors for a file under `folder` was opened with O_DIRECT (Linux). */
async function directDescriptorUnder(folder: string): Promise<boolean> {
	const oDirect = 0o40000;
	for (const fd of await readdir('/proc/self/fd')) {
		const target = await readlink(path.join('/proc/self/fd', fd)).catch(() => '');
		const info = await readFile(path.join('/proc/self/fdinfo', fd), 'utf8').catch(() => '');
		const flags = Number.parseInt(/^flags:\s*([0-7]+)/m.exec(info)?.[1] ?? '0', 8);
		if (target.startsWith(`${folder}${path.sep}`) && (flags & oDirect) !== 0) {
			return true;
		}
	}

	return false;
}

test('pieces in page-aligned memory go out with direct I/O where they align, buffered elsewhere', async (t) => {
	const root = await temporaryFolder(t);
	// Piece 0 lies page-aligned in file a; piece 1 ends a at a 512-byte boundary and starts b there;
	// piece 2 sits in b off the page grid; piece 3 is a short tail.
	const layout = layoutOf(16_384, [20_480 + 512, 'a'], [30_720, 'b']);
	const payload = payloadOf(layout.totalLength);
	const allocator = new AlignedAllocator();
	let directWhileOpen = false;
	const readBack = await withStore(layout, root, (store) =>
		concat(
			...Array.from({length: layout.pieceCount}, (_, index) => {
				const piece = allocator.allocate(layout.pieceSize(index));
				pieceOf(layout, payload, index).copy(piece);
				return store.writePiece(index, piece);
			}),
			defer(async () => {
				directWhileOpen = await directDescriptorUnder(root);
			}),
			defer(() => forkJoin(Array.from({length: layout.pieceCount}, (_, index) => store.readPiece(index)))),
		),
	);
	t.true(directWhileOpen, 'the aligned piece was written through an O_DIRECT descriptor');
	t.deepEqual(Buffer.concat(readBack.at(-1) as Buffer[]), payload);
	const onDisk = await Promise.all(layout.files.map((file) => readFile(path.join(root, ...file.path))));
	t.deepEqual(Buffer.concat(onDisk), payload);
	t.true(await eventually(async () => !(await directDescriptorUnder(root))), 'closed with the store');
});

test('pieces written out of order land at their own positions', async (t) => {
	const root = await temporaryFolder(t);
	const layout = layoutOf(4, [6, 't', 'one'], [5, 't', 'two']);
	const payload = payloadOf(layout.totalLength);
	await withStore(layout, root, (store) =>
		concat(
			store.writePiece(2, pieceOf(layout, payload, 2)),
			store.writePiece(0, pieceOf(layout, payload, 0)),
		),
	);
	t.deepEqual(
		await readFile(path.join(root, 't', 'one')),
		Buffer.concat([payload.subarray(0, 4), Buffer.alloc(2)]),
	);
	t.deepEqual(
		await readFile(path.join(root, 't', 'two')),
		Buffer.concat([Buffer.alloc(2), payload.subarray(8, 11)]),
	);
});

test('a piece across more files than the open-file limit still writes and reads every byte', async (t) => {
	const root = await temporaryFolder(t);
	// 100 one-byte files in one 128-byte piece: more spans than the 64 handles kept open.
	const layout = layoutOf(
		128,
		...Array.from({length: 100}, (_, index): [number, string, string] => [1, 'many', `${index}`]),
	);
	const payload = payloadOf(100);
	const emitted = await withStore(layout, root, (store) =>
		concat(store.writePiece(0, payload), store.readPiece(0)),
	);
	t.deepEqual(emitted.at(-1), payload);
	const onDisk = await Promise.all(layout.files.map((file) => readFile(path.join(root, ...file.path))));
	t.deepEqual(Buffer.concat(onDisk), payload);
});

test('unsubscribing closes the files', async (t) => {
	const root = await temporaryFolder(t);
	const layout = nestedLayout();
	const payload = payloadOf(layout.totalLength);
	let store: PieceStore | undefined;
	const subscription = openPieceStore(layout, root).subscribe((opened) => {
		store = opened;
	});
	t.teardown(() => subscription.unsubscribe());
	t.true(await eventually(async () => store !== undefined));
	if (!store) {
		return;
	}

	await lastValueFrom(store.writePiece(0, pieceOf(layout, payload, 0)), {defaultValue: undefined});
	const open = await openFilesUnder(root);
	t.deepEqual(open.map((file) => path.relative(root, file)).sort(), [
		path.join('album', 'a.txt'),
		path.join('album', 'disc 1', 'deep', 'b.flac'),
	]);

	subscription.unsubscribe();
	t.true(await eventually(async () => (await openFilesUnder(root)).length === 0), 'files still open');
});

test('a symlinked folder that points outside the output folder is refused', async (t) => {
	const root = await temporaryFolder(t);
	const outside = await temporaryFolder(t);
	await mkdir(path.join(root, 'album'));
	await symlink(outside, path.join(root, 'album', 'disc 1'), 'dir');
	const error = await t.throwsAsync(firstValueFrom(openPieceStore(nestedLayout(), root)), {
		instanceOf: StorageError,
		message: /link that leaves the output folder/,
	});
	t.regex(error?.message ?? '', /disc 1/);
	const created = await readdir(outside, {recursive: true, withFileTypes: true});
	t.deepEqual(
		created.filter((entry) => !entry.isDirectory()).map((entry) => entry.name),
		[],
		'no file was created outside',
	);
});

test('a refused symlinked folder leaves nothing behind outside the output folder', async (t) => {
	const root = await temporaryFolder(t);
	const outside = await temporaryFolder(t);
	await mkdir(path.join(root, 'album'));
	await symlink(outside, path.join(root, 'album', 'disc 1'), 'dir');
	await t.throwsAsync(firstValueFrom(openPieceStore(nestedLayout(), root)), {instanceOf: StorageError});
	t.deepEqual(await readdir(outside), []);
});

test('a symlinked top folder that points outside the output folder is refused', async (t) => {
	const root = await temporaryFolder(t);
	const outside = await temporaryFolder(t);
	await symlink(outside, path.join(root, 'album'), 'dir');
	await t.throwsAsync(firstValueFrom(openPieceStore(nestedLayout(), root)), {
		instanceOf: StorageError,
		message: /link that leaves the output folder/,
	});
	t.deepEqual(await readdir(outside), []);
});

test('a symlinked folder that stays inside the output folder is allowed', async (t) => {
	const root = await temporaryFolder(t);
	await mkdir(path.join(root, 'real'));
	await symlink(path.join(root, 'real'), path.join(root, 'album'), 'dir');
	const layout = layoutOf(8, [5, 'album', 'x']);
	await withStore(layout, root, (store) => store.writePiece(0, Buffer.from('hello')));
	t.is(await readFile(path.join(root, 'real', 'x'), 'latin1'), 'hello');
});

test('a symlink in place of a payload file is refused, and its target is untouched', async (t) => {
	const root = await temporaryFolder(t);
	const outside = await temporaryFolder(t);
	const target = path.join(outside, 'precious');
	await writeFile(target, 'do not touch');
	await mkdir(path.join(root, 't'));
	await symlink(target, path.join(root, 't', 'file'));
	await t.throwsAsync(firstValueFrom(openPieceStore(layoutOf(8, [3, 't', 'file']), root)), {
		instanceOf: StorageError,
		message: /not a regular file/,
	});
	t.is(await readFile(target, 'latin1'), 'do not touch');
});

test('an existing file of the right length is kept, not truncated', async (t) => {
	const root = await temporaryFolder(t);
	const layout = layoutOf(4, [10, 't', 'data']);
	await mkdir(path.join(root, 't'));
	await writeFile(path.join(root, 't', 'data'), 'ABCDEFGHIJ');
	const [piece] = await withStore(layout, root, (store) => store.readPiece(1));
	t.is(piece?.toString('latin1'), 'EFGH');
	t.is(await readFile(path.join(root, 't', 'data'), 'latin1'), 'ABCDEFGHIJ');
});

test('an existing file of the wrong length is set to the torrent’s length', async (t) => {
	const root = await temporaryFolder(t);
	await mkdir(path.join(root, 't'));
	await writeFile(path.join(root, 't', 'long'), 'ABCDEFGHIJKL');
	await writeFile(path.join(root, 't', 'short'), 'AB');
	await withStore(layoutOf(4, [10, 't', 'long'], [4, 't', 'short']), root, () => defer(async () => 0));
	t.is(await readFile(path.join(root, 't', 'long'), 'latin1'), 'ABCDEFGHIJ');
	t.deepEqual(await readFile(path.join(root, 't', 'short')), Buffer.from([0x41, 0x42, 0, 0]));
});

test('a folder where a file should be is a StorageError', async (t) => {
	const root = await temporaryFolder(t);
	await mkdir(path.join(root, 't', 'data'), {recursive: true});
	await t.throwsAsync(firstValueFrom(openPieceStore(layoutOf(4, [4, 't', 'data']), root)), {
		instanceOf: StorageError,
		message: /not a regular file/,
	});
});

test('reading a file that shrank behind our back is a StorageError, not zeros', async (t) => {
	const root = await temporaryFolder(t);
	const layout = layoutOf(4, [8, 't', 'data']);
	const error = await t.throwsAsync(
		withStore(layout, root, (store) =>
			concat(
				defer(() => truncate(path.join(root, 't', 'data'), 5)),
				store.readPiece(1),
			),
		),
		{instanceOf: StorageError, message: /cannot read .*data/},
	);
	t.regex(String((error?.cause as Error | undefined)?.message), /shorter than the torrent says/);
});

/**
 * Issue 14 (2.5): the files are checked when the store opens, but opened for writing later (and
 * again after a handle was evicted). A link put in a payload file's place after the check must
 * not be followed, for buffered writes and for the direct-I/O descriptor alike.
 */
for (const direct of [false, true]) {
	test(`a payload file swapped for a link after the check is not written through (${direct ? 'direct' : 'buffered'})`, async (t) => {
		const root = await temporaryFolder(t);
		const outside = await temporaryFolder(t);
		const victim = path.join(outside, 'victim.bin');
		await writeFile(victim, 'do not touch\n');
		const layout = layoutOf(16_384, [16_384, 'album', 'a.bin']);
		const piece = direct ? new AlignedAllocator().allocate(16_384) : Buffer.alloc(16_384);
		piece.fill(7);
		const error = await t.throwsAsync(
			withStore(layout, root, (store) =>
				concat(
					defer(async () => {
						await rm(path.join(root, 'album', 'a.bin'));
						await symlink(victim, path.join(root, 'album', 'a.bin'));
					}),
					store.writePiece(0, piece),
				),
			),
		);
		t.true(error instanceof StorageError, String(error));
		t.is(await readFile(victim, 'utf8'), 'do not touch\n');
	});
}

test('a payload folder swapped for a link to outside after the check is not written through', async (t) => {
	const root = await temporaryFolder(t);
	const outside = await temporaryFolder(t);
	await writeFile(path.join(outside, 'a.bin'), 'do not touch\n');
	const layout = layoutOf(16_384, [16_384, 'album', 'a.bin']);
	const error = await t.throwsAsync(
		withStore(layout, root, (store) =>
			concat(
				defer(async () => {
					await rm(path.join(root, 'album'), {recursive: true});
					await symlink(outside, path.join(root, 'album'));
				}),
				store.writePiece(0, Buffer.alloc(16_384, 7)),
			),
		),
	);
	t.true(error instanceof StorageError, String(error));
	t.regex(error?.message ?? '', /refusing to write through a link/);
	t.is(await readFile(path.join(outside, 'a.bin'), 'utf8'), 'do not touch\n');
});

test('readSpan reads a range across file boundaries back byte for byte', async (t) => {
	const root = await temporaryFolder(t);
	const layout = nestedLayout();
	const payload = payloadOf(layout.totalLength);
	// Piece 0 is 0..8: 7 bytes of a.txt, then 1 of b.flac; piece 3 is 24..30: b.flac's tail and c.
	const ranges: Array<[index: number, begin: number, length: number]> = [
		[0, 5, 3],
		[0, 7, 1],
		[0, 0, 8],
		[3, 1, 4],
		[3, 2, 0],
	];
	const [read] = await withStore(layout, root, (store) =>
		concat(
			...Array.from({length: layout.pieceCount}, (_, index) =>
				store.writePiece(index, pieceOf(layout, payload, index)),
			),
			defer(() =>
				forkJoin(ranges.map(([index, begin, length]) => store.readSpan?.(index, begin, length) ?? of())),
			),
		),
	).then((values) => values.slice(-1) as Buffer[][]);
	t.deepEqual(
		read,
		ranges.map(([index, begin, length]) => pieceOf(layout, payload, index).subarray(begin, begin + length)),
	);
	await t.throwsAsync(
		withStore(layout, root, (store) => store.readSpan?.(3, 4, 3) ?? of()),
		{instanceOf: RangeError},
		'past the end of the last piece',
	);
});

test('pad files (BEP 47) are never made: their bytes read as zeros and are not written anywhere', async (t) => {
	const root = await temporaryFolder(t);
	// 5 + 3 pad + 8 + 8 pad: pieces of 8, the last one pad bytes alone.
	const files: FileEntry[] = [
		{path: ['set', 'a'], length: 5, offset: 0},
		{path: ['set', '.pad', '3'], length: 3, offset: 5, attributes: 'p', pad: true},
		{path: ['set', 'b'], length: 8, offset: 8},
		{path: ['set', '.pad', '8'], length: 8, offset: 16, attributes: 'p', pad: true},
	];
	const layout = new StorageLayout(files, 8);
	t.deepEqual(layout.padRanges(0), [{begin: 5, end: 8}]);
	t.deepEqual(layout.padRanges(1), []);
	t.deepEqual(layout.padRanges(2), [{begin: 0, end: 8}]);
	const piece0 = Buffer.from([1, 2, 3, 4, 5, 0, 0, 0]);
	const results = await withStore(layout, root, (store) =>
		concat(
			defer(() => store.writePiece(0, piece0)),
			defer(() => forkJoin([store.readPiece(0), store.readPiece(2), store.readSpan?.(0, 4, 4) ?? of()])),
		),
	);
	t.deepEqual(results.at(-1), [piece0, Buffer.alloc(8), Buffer.from([5, 0, 0, 0])]);
	t.deepEqual((await readdir(path.join(root, 'set'))).sort(), ['a', 'b'], 'no .pad folder');
	t.deepEqual(await readFile(path.join(root, 'set', 'a')), Buffer.from([1, 2, 3, 4, 5]));
});

test('a file with the BEP 47 attribute `x` is made executable where it is readable; the others are not', async (t) => {
	const root = await temporaryFolder(t);
	const files: FileEntry[] = [
		{path: ['set', 'run.sh'], length: 5, offset: 0, attributes: 'x'},
		{path: ['set', 'notes.txt'], length: 5, offset: 5},
	];
	await withStore(new StorageLayout(files, 16), root, () => of(undefined));
	const mode = async (name: string) => (await stat(path.join(root, 'set', name))).mode & 0o777;
	const script = await mode('run.sh');
	t.is(script & 0o111, (script & 0o444) >> 2, `mode ${script.toString(8)}`);
	t.true((script & 0o100) !== 0);
	t.is((await mode('notes.txt')) & 0o111, 0);
});

test('a link (BEP 47 `l`) is not made as a file: storage/symlinks.ts makes it, and a file at its place is left alone', async (t) => {
	const root = await temporaryFolder(t);
	const files: FileEntry[] = [
		{path: ['set', 'a'], length: 5, offset: 0},
		{path: ['set', 'link'], length: 0, offset: 5, attributes: 'l', symlinkTarget: ['a']},
		{path: ['set', 'kept'], length: 0, offset: 5, attributes: 'l', symlinkTarget: ['a']},
		{path: ['set', 'b'], length: 3, offset: 5},
	];
	await mkdir(path.join(root, 'set'));
	await writeFile(path.join(root, 'set', 'kept'), 'mine');
	const [store] = await withStore(new StorageLayout(files, 8), root, (opened) => of(opened));
	t.deepEqual(store?.preexisting, [false, false, false, false]);
	t.deepEqual((await readdir(path.join(root, 'set'))).sort(), ['a', 'b', 'kept']);
	t.is(await readFile(path.join(root, 'set', 'kept'), 'utf8'), 'mine');
});
