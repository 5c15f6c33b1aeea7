import test from 'ava';
import type {FileEntry} from '../../source/codec/metainfo.js';
import {StorageLayout} from '../../source/storage/layout.js';

/** Files of the given lengths, at running offsets, as the metainfo parser lays them out. */
function files(...lengths: number[]): FileEntry[] {
	let offset = 0;
	return lengths.map((length, index) => {
		const file = {path: ['t', `f${index}`], length, offset};
		offset += length;
		return file;
	});
}

/** Asserts that the spans tile every piece and every byte of every file exactly once. */
function assertEveryByteOnce(t: import('ava').ExecutionContext, layout: StorageLayout): void {
	const covered = layout.files.map((file) => new Uint8Array(file.length));
	const perFile = layout.files.map(() => 0);
	for (let index = 0; index < layout.pieceCount; index++) {
		let pieceOffset = 0;
		for (const span of layout.spans(index)) {
			t.true(span.length > 0, `piece ${index} has an empty span`);
			t.is(span.pieceOffset, pieceOffset, `piece ${index} spans are contiguous`);
			pieceOffset += span.length;
			perFile[span.fileIndex] = (perFile[span.fileIndex] ?? 0) + span.length;
			const marks = covered[span.fileIndex];
			t.truthy(marks);
			for (let byte = span.fileOffset; byte < span.fileOffset + span.length; byte++) {
				marks?.set([(marks[byte] ?? 0) + 1], byte);
			}
		}

		t.is(pieceOffset, layout.pieceSize(index), `piece ${index} spans add up to its size`);
	}

	t.deepEqual(
		perFile,
		layout.files.map((file) => file.length),
	);
	for (const [fileIndex, marks] of covered.entries()) {
		t.true(
			marks.every((count) => count === 1),
			`file ${fileIndex} has a byte covered other than once`,
		);
	}
}

test('counts pieces and sizes the short last piece', (t) => {
	const layout = new StorageLayout(files(10, 25), 16);
	t.is(layout.totalLength, 35);
	t.is(layout.pieceCount, 3);
	t.is(layout.pieceSize(0), 16);
	t.is(layout.pieceSize(1), 16);
	t.is(layout.pieceSize(2), 3);
});

test('a total that is a multiple of the piece length has a full last piece', (t) => {
	const layout = new StorageLayout(files(32), 16);
	t.is(layout.pieceCount, 2);
	t.is(layout.pieceSize(1), 16);
	t.deepEqual(layout.spans(1), [{fileIndex: 0, fileOffset: 16, pieceOffset: 0, length: 16}]);
});

for (const index of [-1, 3, 100]) {
	test(`pieceSize(${index}) is a RangeError`, (t) => {
		const layout = new StorageLayout(files(10, 25), 16);
		t.throws(() => layout.pieceSize(index), {instanceOf: RangeError, message: /outside 0\.\.2/});
		t.throws(() => layout.spans(index), {instanceOf: RangeError});
	});
}

test('a piece that ends exactly on a file boundary does not touch the next file', (t) => {
	const layout = new StorageLayout(files(16, 16), 16);
	t.deepEqual(layout.spans(0), [{fileIndex: 0, fileOffset: 0, pieceOffset: 0, length: 16}]);
	t.deepEqual(layout.spans(1), [{fileIndex: 1, fileOffset: 0, pieceOffset: 0, length: 16}]);
});

test('a piece across a file boundary is split at it', (t) => {
	const layout = new StorageLayout(files(10, 25), 16);
	t.deepEqual(layout.spans(0), [
		{fileIndex: 0, fileOffset: 0, pieceOffset: 0, length: 10},
		{fileIndex: 1, fileOffset: 0, pieceOffset: 10, length: 6},
	]);
	t.deepEqual(layout.spans(1), [{fileIndex: 1, fileOffset: 6, pieceOffset: 0, length: 16}]);
	t.deepEqual(layout.spans(2), [{fileIndex: 1, fileOffset: 22, pieceOffset: 0, length: 3}]);
	assertEveryByteOnce(t, layout);
});

test('a piece spanning three files', (t) => {
	const layout = new StorageLayout(files(5, 4, 20), 16);
	t.deepEqual(layout.spans(0), [
		{fileIndex: 0, fileOffset: 0, pieceOffset: 0, length: 5},
		{fileIndex: 1, fileOffset: 0, pieceOffset: 5, length: 4},
		{fileIndex: 2, fileOffset: 0, pieceOffset: 9, length: 7},
	]);
	t.deepEqual(layout.spans(1), [{fileIndex: 2, fileOffset: 7, pieceOffset: 0, length: 13}]);
	assertEveryByteOnce(t, layout);
});

test('a middle piece starting inside one file and ending inside the third', (t) => {
	const layout = new StorageLayout(files(20, 3, 3, 30), 16);
	t.deepEqual(layout.spans(1), [
		{fileIndex: 0, fileOffset: 16, pieceOffset: 0, length: 4},
		{fileIndex: 1, fileOffset: 0, pieceOffset: 4, length: 3},
		{fileIndex: 2, fileOffset: 0, pieceOffset: 7, length: 3},
		{fileIndex: 3, fileOffset: 0, pieceOffset: 10, length: 6},
	]);
	assertEveryByteOnce(t, layout);
});

test('zero-length files first, in the middle and last never appear in spans', (t) => {
	const layout = new StorageLayout(files(0, 0, 10, 0, 12, 0, 0, 5, 0), 8);
	t.is(layout.totalLength, 27);
	t.is(layout.pieceCount, 4);
	const used = new Set<number>();
	for (let index = 0; index < layout.pieceCount; index++) {
		for (const span of layout.spans(index)) {
			used.add(span.fileIndex);
		}
	}

	t.deepEqual(
		[...used].sort((a, b) => a - b),
		[2, 4, 7],
	);
	t.deepEqual(layout.spans(0), [{fileIndex: 2, fileOffset: 0, pieceOffset: 0, length: 8}]);
	t.deepEqual(layout.spans(1), [
		{fileIndex: 2, fileOffset: 8, pieceOffset: 0, length: 2},
		{fileIndex: 4, fileOffset: 0, pieceOffset: 2, length: 6},
	]);
	t.deepEqual(layout.spans(2), [
		{fileIndex: 4, fileOffset: 6, pieceOffset: 0, length: 6},
		{fileIndex: 7, fileOffset: 0, pieceOffset: 6, length: 2},
	]);
	t.deepEqual(layout.spans(3), [{fileIndex: 7, fileOffset: 2, pieceOffset: 0, length: 3}]);
	assertEveryByteOnce(t, layout);
});

test('a zero-length file exactly at a piece boundary is skipped', (t) => {
	const layout = new StorageLayout(files(8, 0, 8), 8);
	t.deepEqual(layout.spans(0), [{fileIndex: 0, fileOffset: 0, pieceOffset: 0, length: 8}]);
	t.deepEqual(layout.spans(1), [{fileIndex: 2, fileOffset: 0, pieceOffset: 0, length: 8}]);
	assertEveryByteOnce(t, layout);
});

test('many small files inside one large piece', (t) => {
	const lengths = Array.from({length: 50}, (_, index) => (index * 7) % 5);
	const layout = new StorageLayout(files(...lengths), 64);
	t.is(layout.pieceCount, Math.ceil(lengths.reduce((a, b) => a + b, 0) / 64));
	assertEveryByteOnce(t, layout);
});

for (const [lengths, pieceLength] of [
	[[1], 1],
	[[1, 1, 1], 2],
	[[100, 0, 37, 1, 0, 250], 16],
	[[3, 5, 7, 11, 13, 17, 19], 4],
	[[1000], 1024],
	[[16_384, 16_383, 1], 16_384],
] as const) {
	test(`covers every byte once: files [${lengths.join(', ')}] in pieces of ${pieceLength}`, (t) => {
		assertEveryByteOnce(t, new StorageLayout(files(...lengths), pieceLength));
	});
}
