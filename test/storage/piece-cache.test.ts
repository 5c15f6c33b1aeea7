import test from 'ava';
import {firstValueFrom, type Observable, of, Subject, throwError} from 'rxjs';
import type {PieceStore} from '../../source/storage/disk.js';
import {PieceCache} from '../../source/storage/piece-cache.js';

/** Four pieces: three of 1000 bytes and a last one of 500. */
const pieces = [1000, 1000, 1000, 500].map((length, index) =>
	Buffer.from(Array.from({length}, (_, offset) => (offset * 13 + index * 101) & 0xff)),
);
const pieceSize = (index: number) => pieces[index]?.length ?? 0;
const slice = (index: number, begin: number, length: number) =>
	(pieces[index] ?? Buffer.alloc(0)).subarray(begin, begin + length);

/** A store that records which pieces were read; `answer` decides how each read ends. */
function countingStore(
	answer: (index: number, call: number) => Observable<Buffer> = (index) => of(piece(index)),
) {
	const reads: number[] = [];
	const store: PieceStore = {
		preexisting: [],
		writePiece: () => of(undefined),
		readPiece(index) {
			reads.push(index);
			return answer(index, reads.length);
		},
	};
	return {store, reads};
}

function piece(index: number): Buffer {
	return Buffer.from(pieces[index] ?? Buffer.alloc(0));
}

const block = (cache: PieceCache, index: number, begin: number, length: number, next?: number) =>
	firstValueFrom(cache.readBlock(index, begin, length, next));

test('reads a piece once for all of its blocks, also while the first read is pending', async (t) => {
	const {store, reads} = countingStore();
	const cache = new PieceCache(store, pieceSize, 10_000);
	const blocks = await Promise.all([0, 250, 500, 750].map((begin) => block(cache, 0, begin, 250)));
	t.deepEqual(
		blocks.map((got, index) => got.equals(slice(0, index * 250, 250))),
		[true, true, true, true],
	);
	t.true((await block(cache, 0, 900, 100)).equals(slice(0, 900, 100)));
	t.deepEqual(reads, [0]);
});

test('peekBlock answers undefined until the piece has arrived, then the block', async (t) => {
	const arrivals = new Map<number, Subject<Buffer>>();
	const {store, reads} = countingStore((index) => {
		const arrival = new Subject<Buffer>();
		arrivals.set(index, arrival);
		return arrival;
	});
	const cache = new PieceCache(store, pieceSize, 10_000);
	t.is(cache.peekBlock(2, 0, 10), undefined, 'never read');
	const reading = block(cache, 2, 100, 50);
	t.is(cache.peekBlock(2, 0, 10), undefined, 'still on its way');
	arrivals.get(2)?.next(piece(2));
	t.true((await reading).equals(slice(2, 100, 50)));
	t.true(cache.peekBlock(2, 990, 10)?.equals(slice(2, 990, 10)));
	t.is(cache.peekBlock(1, 0, 10), undefined);
	t.deepEqual(reads, [2]);
});

test('reading a piece reads the next one ahead, once', async (t) => {
	const {store, reads} = countingStore();
	const cache = new PieceCache(store, pieceSize, 10_000);
	t.true((await block(cache, 0, 0, 10, 1)).equals(slice(0, 0, 10)));
	t.deepEqual(reads, [0, 1]);
	t.true(cache.peekBlock(1, 20, 30)?.equals(slice(1, 20, 30)));
	t.true((await block(cache, 1, 0, 10, 0)).equals(slice(1, 0, 10)));
	t.true((await block(cache, 0, 10, 10, 1)).equals(slice(0, 10, 10)));
	t.deepEqual(reads, [0, 1], 'neither read again, for itself or ahead');
});

test('over maxBytes the least recently used pieces go first, counted in bytes', async (t) => {
	const {store, reads} = countingStore();
	const cache = new PieceCache(store, pieceSize, 2500);
	await block(cache, 0, 0, 10);
	await block(cache, 1, 0, 10);
	// 2000 + 500 bytes fit exactly.
	await block(cache, 3, 0, 10);
	t.deepEqual(reads, [0, 1, 3]);
	// Touch 0, so 1 is now the least recently used.
	await block(cache, 0, 10, 10);
	await block(cache, 2, 0, 10);
	t.deepEqual(reads, [0, 1, 3, 2]);
	t.is(cache.peekBlock(1, 0, 10), undefined, 'evicted');
	t.true(cache.peekBlock(3, 0, 10)?.equals(slice(3, 0, 10)));
	t.true(cache.peekBlock(0, 0, 10)?.equals(slice(0, 0, 10)));
	t.true((await block(cache, 1, 5, 10)).equals(slice(1, 5, 10)));
	// Making room for 1 evicts 3, and as its 500 bytes are not enough, 0 after it; 2 stays.
	t.deepEqual(reads, [0, 1, 3, 2, 1]);
	t.is(cache.peekBlock(3, 0, 10), undefined);
	t.is(cache.peekBlock(0, 0, 10), undefined);
	t.true(cache.peekBlock(2, 0, 10)?.equals(slice(2, 0, 10)));
});

test('a failed read is not cached and holds no room: the next request reads again', async (t) => {
	const {store, reads} = countingStore((index, call) =>
		call === 1 ? throwError(() => new Error('disk gone')) : of(piece(index)),
	);
	const cache = new PieceCache(store, pieceSize, 2000);
	await t.throwsAsync(block(cache, 0, 0, 10), {message: 'disk gone'});
	t.is(cache.peekBlock(0, 0, 10), undefined);
	t.true((await block(cache, 0, 0, 10)).equals(slice(0, 0, 10)));
	await block(cache, 1, 0, 10);
	t.deepEqual(reads, [0, 0, 1]);
	// Had the failed read kept its 1000 bytes, reading 1 would have evicted 0.
	t.true(cache.peekBlock(0, 0, 10)?.equals(slice(0, 0, 10)));
	await block(cache, 0, 20, 10);
	t.deepEqual(reads, [0, 0, 1]);
});

const mib = 1024 * 1024;
const kib16 = 16 * 1024;

/** The byte at `offset` of piece `index` of a big fake payload. */
const byteAt = (index: number, offset: number) => (offset * 7 + index * 31 + (offset >> 14)) & 0xff;

function bigBytes(index: number, begin: number, length: number): Buffer {
	const bytes = Buffer.allocUnsafe(length);
	for (let offset = 0; offset < length; offset++) {
		bytes[offset] = byteAt(index, begin + offset);
	}

	return bytes;
}

/**
 * A store of big pieces that counts the bytes each read takes from disk, and, with `hold`, keeps
 * reads open until `release()`: the memory a read holds is the length it asked for.
 */
function bigStore(pieceBytes: number, hold = false) {
	const counts = {bytes: 0, open: 0, maxOpen: 0, reads: [] as string[]};
	const pending: Array<() => void> = [];
	const read = (index: number, begin: number, length: number): Observable<Buffer> => {
		counts.reads.push(`${index}@${begin}+${length}`);
		counts.bytes += length;
		counts.open += length;
		counts.maxOpen = Math.max(counts.maxOpen, counts.open);
		const answer = new Subject<Buffer>();
		const finish = () => {
			counts.open -= length;
			answer.next(bigBytes(index, begin, length));
			answer.complete();
		};
		if (hold) {
			pending.push(finish);
		} else {
			queueMicrotask(finish);
		}

		return answer;
	};
	const store: PieceStore = {
		preexisting: [],
		writePiece: () => of(undefined),
		readPiece: (index) => read(index, 0, pieceBytes),
		readSpan: (index, begin, length) => read(index, begin, length),
	};
	const release = () => {
		for (const finish of pending.splice(0)) {
			finish();
		}
	};
	return {store, counts, release};
}

test('a 16 KiB request on a 16 MiB piece reads at most 2 MiB, the right bytes', async (t) => {
	const {store, counts} = bigStore(16 * mib);
	const cache = new PieceCache(store, () => 16 * mib, 32 * mib);
	const begin = 5 * mib + 3 * kib16;
	t.true((await block(cache, 7, begin, kib16, 8)).equals(bigBytes(7, begin, kib16)));
	t.true(counts.bytes <= 2 * mib, `read ${counts.bytes} bytes`);
	// The rest of its window came with it.
	t.true(cache.peekBlock(7, begin + kib16, kib16)?.equals(bigBytes(7, begin + kib16, kib16)));
});

test('a piece of 1 MiB is read whole, and the next piece ahead, as before', async (t) => {
	const {store, counts} = bigStore(mib);
	const cache = new PieceCache(store, () => mib, 32 * mib);
	t.true((await block(cache, 3, 5 * kib16, kib16, 4)).equals(bigBytes(3, 5 * kib16, kib16)));
	t.deepEqual(counts.reads, [`3@0+${mib}`, `4@0+${mib}`]);
	t.true((await block(cache, 4, mib - kib16, kib16)).equals(bigBytes(4, mib - kib16, kib16)));
	t.true((await block(cache, 3, 0, kib16, 4)).equals(bigBytes(3, 0, kib16)));
	t.deepEqual(counts.reads, [`3@0+${mib}`, `4@0+${mib}`], 'neither read again');
});

test('a block served from memory reads the window after it ahead, so a peer going in order never waits', async (t) => {
	const {store, counts} = bigStore(2 * mib);
	const cache = new PieceCache(store, () => 2 * mib, 32 * mib);
	await block(cache, 0, 0, kib16, 1);
	t.deepEqual(counts.reads, [`0@0+${mib}`, `0@${mib}+${mib}`]);
	// Its window has arrived (asked without a next piece, so this asks for nothing ahead).
	await block(cache, 0, mib, kib16);
	t.is(counts.reads.length, 2);
	t.true(cache.peekBlock(0, mib + kib16, kib16, 1)?.equals(bigBytes(0, mib + kib16, kib16)));
	t.deepEqual(
		counts.reads,
		[`0@0+${mib}`, `0@${mib}+${mib}`, `1@0+${mib}`],
		'the next piece, while serving this one',
	);
	t.true(cache.peekBlock(0, mib + 2 * kib16, kib16, 1)?.equals(bigBytes(0, mib + 2 * kib16, kib16)));
	t.is(counts.reads.length, 3, 'once');
});

test('a block across two windows is read alone, byte for byte', async (t) => {
	const {store, counts} = bigStore(16 * mib);
	const cache = new PieceCache(store, () => 16 * mib, 32 * mib);
	const begin = mib - kib16 / 2;
	t.true((await block(cache, 2, begin, kib16)).equals(bigBytes(2, begin, kib16)));
	t.deepEqual(counts.reads, [`2@${begin}+${kib16}`]);
});

test('many peers asking for different big pieces keep reads in flight within the budget', async (t) => {
	const {store, counts, release} = bigStore(16 * mib, true);
	const budget = 4 * mib;
	const cache = new PieceCache(store, () => 16 * mib, budget);
	const blocks = Array.from({length: 12}, (_, index) => block(cache, index, 2 * mib, kib16, index + 1));
	t.true(counts.maxOpen <= budget + 12 * kib16, `${counts.maxOpen} bytes held by reads in flight`);
	release();
	const got = await Promise.all(blocks);
	t.deepEqual(
		got.map((bytes, index) => bytes.equals(bigBytes(index, 2 * mib, kib16))),
		Array.from({length: 12}, () => true),
	);
});

test('a read in flight cannot be evicted: it holds its room until it has finished', async (t) => {
	const {store, counts, release} = bigStore(mib, true);
	const cache = new PieceCache(store, () => mib, 2 * mib);
	const first = block(cache, 0, 0, kib16);
	const second = block(cache, 1, 0, kib16);
	t.is(counts.open, 2 * mib);
	// The budget is full of reads in flight: this block is read alone and not kept.
	const third = block(cache, 2, 0, kib16);
	t.is(counts.open, 2 * mib + kib16);
	release();
	t.true((await third).equals(bigBytes(2, 0, kib16)));
	t.is(cache.peekBlock(2, 0, kib16), undefined, 'not cached');
	await Promise.all([first, second]);
	t.true(cache.peekBlock(0, kib16, kib16)?.equals(bigBytes(0, kib16, kib16)));
	// Finished now, 0 and 1 may be evicted for 2.
	const again = block(cache, 2, 0, kib16);
	release();
	t.true((await again).equals(bigBytes(2, 0, kib16)));
	t.true(cache.peekBlock(2, kib16, kib16)?.equals(bigBytes(2, kib16, kib16)));
	t.is(cache.peekBlock(0, 0, kib16), undefined, 'evicted once finished');
});
