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
