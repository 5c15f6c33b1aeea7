import test from 'ava';
import {AlignedAllocator, directIoAlignment, directWritable} from '../../source/storage/aligned-memory.js';

test('buffers start on page boundaries in shared memory, zeroed, at the asked length', (t) => {
	const allocator = new AlignedAllocator();
	const buffers = [16_384, 5000, 1, 1 << 20, 64 * 1024 * 1024].map((length) => allocator.allocate(length));
	for (const buffer of buffers) {
		t.true(buffer.buffer instanceof SharedArrayBuffer);
		t.is(buffer.byteOffset % directIoAlignment, 0);
		t.true(buffer.every((byte) => byte === 0));
	}

	t.deepEqual(
		buffers.map((buffer) => buffer.length),
		[16_384, 5000, 1, 1 << 20, 64 * 1024 * 1024],
	);
});

test('buffers from one slab do not overlap', (t) => {
	const allocator = new AlignedAllocator();
	const [first, second] = [allocator.allocate(5000), allocator.allocate(5000)];
	if (!first || !second) {
		return t.fail();
	}

	t.is(first.buffer, second.buffer, 'small buffers share a slab');
	first.fill(1);
	t.true(second.every((byte) => byte === 0));
});

test('direct I/O only for aligned memory, length and position', (t) => {
	const piece = new AlignedAllocator().allocate(3 * directIoAlignment);
	t.true(directWritable(piece, 0));
	t.true(directWritable(piece.subarray(directIoAlignment), 8 * directIoAlignment));
	t.false(directWritable(piece, 512), 'position off the block');
	t.false(directWritable(piece.subarray(0, 5000), 0), 'length off the block');
	t.false(directWritable(piece.subarray(512, 512 + directIoAlignment), 0), 'memory off the page');
	t.false(directWritable(piece.subarray(0, 0), 0), 'nothing to write');
	t.false(directWritable(Buffer.alloc(directIoAlignment), 0), 'memory of unknown alignment');
});
