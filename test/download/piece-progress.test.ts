import test from 'ava';
import {PieceProgress} from '../../source/download/piece-progress.js';

const kib = 1024;

test('pad bytes (BEP 47) at a piece’s end: whole pad blocks are held from the start, the block they begin in asked for up to them', (t) => {
	// 64 KiB: data up to 20,000, pad bytes after it.
	const piece = new PieceProgress(0, 64 * kib, (length) => Buffer.alloc(length, 0xee), [
		{begin: 20_000, end: 64 * kib},
	]);
	t.is(piece.blockCount, 4);
	t.deepEqual(
		[0, 1, 2, 3].map((block) => piece.blockSize(block)),
		[16 * kib, 20_000 - 16 * kib, 0, 0],
	);
	t.true(piece.empty, 'nothing worth keeping until a peer sends something');
	t.false(piece.complete);
	t.deepEqual([piece.claimBlock(), piece.claimBlock(), piece.claimBlock()], [0, 1, -1]);
	t.is(piece.receive(0, Buffer.alloc(16 * kib, 1), 'peer'), 'stored');
	t.is(
		piece.receive(16 * kib, Buffer.alloc(16 * kib, 2), 'peer'),
		'misfit',
		'a whole block where less was asked',
	);
	t.is(piece.receive(16 * kib, Buffer.alloc(20_000 - 16 * kib, 2), 'peer'), 'stored');
	t.true(piece.complete);
	const data = piece.data;
	t.true(
		data.subarray(20_000).equals(Buffer.alloc(64 * kib - 20_000)),
		'the pad bytes are zeros, whatever the buffer held',
	);
	t.is(data[19_999], 2);
	t.is(piece.senderOf(2), undefined, 'nobody sent the pad blocks: nobody is blamed for them');
});

test('without pad bytes, every block is asked for whole but a short last one', (t) => {
	const piece = new PieceProgress(3, 40_000);
	t.deepEqual(
		[0, 1, 2].map((block) => piece.blockSize(block)),
		[16 * kib, 16 * kib, 40_000 - 32 * kib],
	);
	t.true(piece.empty);
});

test('pad bytes followed by data in the same block are asked for with it', (t) => {
	// Odd, but legal: a pad range inside a block, data after it.
	const piece = new PieceProgress(0, 32 * kib, undefined, [{begin: 1000, end: 2000}]);
	t.deepEqual(
		[0, 1].map((block) => piece.blockSize(block)),
		[16 * kib, 16 * kib],
	);
});
