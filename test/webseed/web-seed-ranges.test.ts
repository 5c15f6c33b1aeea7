import test from 'ava';
import type {FileEntry} from '../../source/codec/metainfo.js';
import {PieceProgress} from '../../source/download/piece-progress.js';
import {StorageLayout} from '../../source/storage/layout.js';
import {type Assembled, RunAssembler} from '../../source/webseed/run-assembler.js';
import {rangesForRun} from '../../source/webseed/web-seed-ranges.js';

const kib = 1024;

function layoutOf(
	pieceLength: number,
	...entries: Array<[length: number, kind?: 'pad' | 'link']>
): StorageLayout {
	let offset = 0;
	const files = entries.map(([length, kind], index): FileEntry => {
		const file: FileEntry = {
			path: ['t', `f${index}`],
			length,
			offset,
			...(kind === 'pad' ? {pad: true as const} : {}),
			...(kind === 'link' ? {symlinkTarget: ['f0']} : {}),
		};
		offset += length;
		return file;
	});
	return new StorageLayout(files, pieceLength);
}

test('a run is one range per file it crosses, across piece boundaries; pad files and links are never asked for', (t) => {
	// Pieces of 64 KiB: f0 100 KiB, a pad to 128 KiB, a link, f3 70 KiB, f4 58 KiB (to 256 KiB).
	const layout = layoutOf(64 * kib, [100 * kib], [28 * kib, 'pad'], [0, 'link'], [70 * kib], [58 * kib]);
	t.deepEqual(rangesForRun(layout, 0, 3), [
		{fileIndex: 0, start: 0, end: 100 * kib - 1, payloadOffset: 0},
		{fileIndex: 3, start: 0, end: 70 * kib - 1, payloadOffset: 128 * kib},
		{fileIndex: 4, start: 0, end: 58 * kib - 1, payloadOffset: 198 * kib},
	]);
	t.deepEqual(rangesForRun(layout, 1, 2), [
		{fileIndex: 0, start: 64 * kib, end: 100 * kib - 1, payloadOffset: 64 * kib},
		{fileIndex: 3, start: 0, end: 64 * kib - 1, payloadOffset: 128 * kib},
	]);
});

/** The payload's bytes for `layout`, pad bytes zero. */
function payloadFor(layout: StorageLayout): Buffer {
	const payload = Buffer.alloc(layout.totalLength);
	for (const file of layout.files) {
		if (!file.pad) {
			for (let at = 0; at < file.length; at++) {
				payload[file.offset + at] = (file.offset + at * 13 + 5) % 251;
			}
		}
	}

	return payload;
}

test('the assembler cuts the answers into blocks, zeros where pad bytes were not asked for, whatever the chunks', (t) => {
	// Pieces of 48 KiB: f0 40 KiB, a pad of 8 KiB (ends piece 0), f2 20 KiB, a pad of 4 KiB in the
	// middle of a block, f4 24 KiB (to 96 KiB).
	const layout = layoutOf(48 * kib, [40 * kib], [8 * kib, 'pad'], [20 * kib], [4 * kib, 'pad'], [24 * kib]);
	const payload = payloadFor(layout);
	for (const chunk of [1000, 16 * kib, 100 * kib]) {
		const pieces = [0, 1].map(
			(index) => new PieceProgress(index, layout.pieceSize(index), undefined, layout.padRanges(index)),
		);
		const assembler = new RunAssembler(layout.pieceLength, pieces, 'seed');
		const out: Assembled = {stored: [], completed: []};
		for (const range of rangesForRun(layout, 0, 1)) {
			assembler.startRange(range.payloadOffset, out);
			const bytes = payload.subarray(range.payloadOffset, range.payloadOffset + range.end - range.start + 1);
			for (let at = 0; at < bytes.length; at += chunk) {
				assembler.write(bytes.subarray(at, at + chunk), out);
			}
		}

		assembler.finish(out);
		t.deepEqual(
			out.completed.map((piece) => piece.index),
			[0, 1],
			`chunks of ${chunk}`,
		);
		t.true(pieces[0]?.data.equals(payload.subarray(0, 48 * kib)), `piece 0, chunks of ${chunk}`);
		t.true(pieces[1]?.data.equals(payload.subarray(48 * kib, 96 * kib)), `piece 1, chunks of ${chunk}`);
	}
});

test('a block another source stored first is a duplicate, and a complete piece is never written again', (t) => {
	const layout = layoutOf(32 * kib, [32 * kib]);
	const payload = payloadFor(layout);
	const piece = new PieceProgress(0, 32 * kib);
	piece.receive(0, payload.subarray(0, 16 * kib), 'peer');
	const assembler = new RunAssembler(layout.pieceLength, [piece], 'seed');
	const out: Assembled = {stored: [], completed: []};
	assembler.startRange(0, out);
	assembler.write(payload, out);
	t.deepEqual(
		out.stored.map(([, block]) => block),
		[1],
	);
	t.deepEqual(out.completed, [piece]);
	const again: Assembled = {stored: [], completed: []};
	assembler.startRange(0, again);
	assembler.write(Buffer.alloc(32 * kib, 0xff), again);
	t.deepEqual(again, {stored: [], completed: []});
	t.true(piece.data.equals(payload));
});

test('bytes past the run are not placed anywhere', (t) => {
	const layout = layoutOf(16 * kib, [32 * kib]);
	const piece = new PieceProgress(0, 16 * kib);
	const assembler = new RunAssembler(layout.pieceLength, [piece], 'seed');
	const out: Assembled = {stored: [], completed: []};
	assembler.startRange(0, out);
	assembler.write(Buffer.alloc(32 * kib, 1), out);
	t.deepEqual(out.completed, [piece]);
});
