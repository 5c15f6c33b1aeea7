import test from 'ava';
import type {FileEntry} from '../../source/codec/metainfo.js';
import {wantedForFiles} from '../../source/download/wanted-files.js';
import {StorageLayout} from '../../source/storage/layout.js';

function layoutOf(pieceLength: number, ...files: Array<[length: number, pad?: 'pad']>): StorageLayout {
	let offset = 0;
	const entries = files.map(([length, pad], index): FileEntry => {
		const entry: FileEntry = {path: [`f${index}`], length, offset, ...(pad ? {pad: true as const} : {})};
		offset += length;
		return entry;
	});
	return new StorageLayout(entries, pieceLength);
}

const wantedIndexes = (layout: StorageLayout, selected: boolean[]) => {
	const wanted = wantedForFiles(layout, selected);
	return (
		wanted &&
		Array.from({length: layout.pieceCount}, (_, index) => index).filter((index) => wanted.isWanted(index))
	);
};

test('a selected file wants every piece that holds a byte of it, the pieces it shares included', (t) => {
	// Pieces of 10: f0 is 0..25 (pieces 0-2), f1 25..40 (2-3), f2 40..55 (4-5).
	const layout = layoutOf(10, [25], [15], [15]);
	t.deepEqual(wantedIndexes(layout, [false, true, false]), [2, 3]);
	t.deepEqual(wantedIndexes(layout, [true, false, true]), [0, 1, 2, 4, 5]);
});

test('every piece wanted is the uniform default: no priorities at all', (t) => {
	const layout = layoutOf(10, [25], [15], [15]);
	t.is(wantedForFiles(layout, [true, true, true]), undefined);
	// f1 alone shares piece 2 with f0 and piece 3 with nobody: f0 and f2 together want all but 3.
	t.deepEqual(wantedIndexes(layout, [true, false, true]), [0, 1, 2, 4, 5]);
});

test('pad files and empty files want nothing of their own', (t) => {
	// f0 0..15, a pad 15..20, f2 empty at 20, f3 20..30.
	const layout = layoutOf(10, [15], [5, 'pad'], [0], [10]);
	t.deepEqual(wantedIndexes(layout, [false, true, true, true]), [2]);
	t.deepEqual(wantedIndexes(layout, [true, false, false, false]), [0, 1]);
});
