import {mkdtemp, readFile, rm, stat, writeFile} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {concat, defer, ignoreElements, lastValueFrom, mergeMap, type Observable, toArray} from 'rxjs';
import type {FileEntry} from '../../source/codec/metainfo.js';
import {withResource} from '../../source/rx/with-resource.js';
import {openPieceStore, type PieceStore, type StoreOptions} from '../../source/storage/disk.js';
import {StorageLayout} from '../../source/storage/layout.js';

async function temporaryFolder(t: ExecutionContext): Promise<string> {
	const folder = await mkdtemp(path.join(os.tmpdir(), 'torrent-rx-selection-'));
	t.teardown(() => rm(folder, {recursive: true, force: true}));
	return folder;
}

/** Pieces of 10 bytes over t/a (0..25), t/b (25..40), t/c (40..55): a and b share piece 2, b and c none. */
function threeFiles(): StorageLayout {
	let offset = 0;
	const files = (
		[
			['a', 25],
			['b', 15],
			['c', 15],
		] as const
	).map(([name, length]): FileEntry => {
		const file = {path: ['t', name], length, offset};
		offset += length;
		return file;
	});
	return new StorageLayout(files, 10);
}

function payloadOf(length: number): Buffer {
	return Buffer.from(Array.from({length}, (_, index) => (index * 37 + 11) % 256));
}

function withStore<T>(
	layout: StorageLayout,
	root: string,
	options: StoreOptions,
	use: (store: PieceStore) => Observable<T>,
): Promise<T[]> {
	return lastValueFrom(withResource(openPieceStore(layout, root, options), use).pipe(toArray()));
}

const writePieces = (store: PieceStore, layout: StorageLayout, payload: Buffer, indexes: number[]) =>
	concat(
		...indexes.map((index) =>
			defer(() =>
				store.writePiece(index, payload.subarray(index * 10, index * 10 + layout.pieceSize(index))),
			),
		),
	).pipe(ignoreElements());

test('a file not selected is not made; its part of a piece it shares goes to the parts file, and reads back', async (t) => {
	const root = await temporaryFolder(t);
	const layout = threeFiles();
	const payload = payloadOf(55);
	const partsFile = path.join(root, '.torrent-rx', 'x.parts');
	// b alone: pieces 2 and 3; piece 2 holds a's bytes 20..25.
	const [read] = await withStore(layout, root, {selected: [false, true, false], partsFile}, (store) =>
		concat(
			writePieces(store, layout, payload, [2, 3]),
			defer(() => store.readPiece(2)),
		),
	);
	t.deepEqual(read, payload.subarray(20, 30));
	t.deepEqual(await readFile(path.join(root, 't', 'b')), payload.subarray(25, 40));
	await t.throwsAsync(stat(path.join(root, 't', 'a')), {code: 'ENOENT'});
	await t.throwsAsync(stat(path.join(root, 't', 'c')), {code: 'ENOENT'});
	t.true((await stat(partsFile)).size > 0);
});

test('what can be read back: a piece of a file kept in the parts file only once the parts file holds it', async (t) => {
	const root = await temporaryFolder(t);
	const layout = threeFiles();
	const payload = payloadOf(55);
	const partsFile = path.join(root, 'x.parts');
	const [before, after] = await withStore(
		layout,
		root,
		{selected: [false, true, false], partsFile},
		(store) =>
			concat(
				defer(async () => [0, 1, 2, 3, 4, 5].map((index) => store.readable?.(index))),
				writePieces(store, layout, payload, [2]),
				defer(async () => [0, 1, 2, 3, 4, 5].map((index) => store.readable?.(index))),
			),
	);
	// Pieces 4 and 5 are c's alone, c not selected: never readable, never wanted.
	t.deepEqual(before, [false, false, false, true, false, false]);
	t.deepEqual(after, [false, false, true, true, false, false]);
});

test('selected later, a file gets its bytes from the parts file, which goes once nothing is kept there', async (t) => {
	const root = await temporaryFolder(t);
	const layout = threeFiles();
	const payload = payloadOf(55);
	const partsFile = path.join(root, 'x.parts');
	await withStore(layout, root, {selected: [false, true, false], partsFile}, (store) =>
		writePieces(store, layout, payload, [2, 3]),
	);
	const [opened] = await withStore(layout, root, {partsFile}, (store) =>
		defer(async () => ({preexisting: store.preexisting, createdNow: store.createdNow})),
	);
	// a is made now, its bytes 20..25 brought from the parts file; c is made now with nothing.
	t.deepEqual(opened, {preexisting: [true, true, false], createdNow: [true, false, true]});
	t.deepEqual((await readFile(path.join(root, 't', 'a'))).subarray(20, 25), payload.subarray(20, 25));
	await t.throwsAsync(stat(partsFile), {code: 'ENOENT'});
});

test('a file not selected that is on disk already is read and written where it is, not in the parts file', async (t) => {
	const root = await temporaryFolder(t);
	const layout = threeFiles();
	const payload = payloadOf(55);
	const partsFile = path.join(root, 'x.parts');
	await withStore(layout, root, {}, (store) => writePieces(store, layout, payload, [0, 1, 2, 3, 4, 5]));
	const [read] = await withStore(layout, root, {selected: [false, true, false], partsFile}, (store) =>
		concat(
			writePieces(store, layout, payload, [2]),
			defer(() => store.readPiece(0)),
		),
	);
	t.deepEqual(read, payload.subarray(0, 10));
	await t.throwsAsync(stat(partsFile), {code: 'ENOENT'});
	t.deepEqual(await readFile(path.join(root, 't', 'a')), payload.subarray(0, 25));
});

test('a file the user put in the place of a file kept in parts makes it a file of its own again', async (t) => {
	const root = await temporaryFolder(t);
	const layout = threeFiles();
	const partsFile = path.join(root, 'x.parts');
	await withStore(layout, root, {selected: [false, true, false], partsFile}, () =>
		defer(async () => undefined),
	);
	await writeFile(path.join(root, 't', 'c'), payloadOf(55).subarray(40, 55));
	const [preexisting] = await withStore(layout, root, {selected: [false, true, false], partsFile}, (store) =>
		defer(async () => store.preexisting),
	);
	// b was made (at its length) by the first open; c is the user's now; a is still kept in parts, which holds none of it.
	t.deepEqual(preexisting, [false, true, true]);
	await lastValueFrom(
		withResource(openPieceStore(layout, root, {selected: [false, true, false], partsFile}), (store) =>
			defer(() => store.readPiece(4)).pipe(
				mergeMap(async (piece) => t.deepEqual(piece, payloadOf(55).subarray(40, 50))),
			),
		),
	);
});

test('something else where a file not selected would be is left alone: its bytes go to the parts file', async (t) => {
	const root = await temporaryFolder(t);
	const layout = threeFiles();
	const payload = payloadOf(55);
	const partsFile = path.join(root, 'x.parts');
	const mine = path.join(root, 't', 'a');
	await withStore(layout, root, {}, () => defer(async () => undefined));
	await writeFile(mine, 'the user’s own a, of another length');
	const [read] = await withStore(layout, root, {selected: [false, true, false], partsFile}, (store) =>
		concat(
			writePieces(store, layout, payload, [2]),
			defer(() => store.readPiece(2)),
		),
	);
	t.deepEqual(read, payload.subarray(20, 30));
	t.is(await readFile(mine, 'utf8'), 'the user’s own a, of another length');
});
