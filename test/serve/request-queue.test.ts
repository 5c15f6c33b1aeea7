import test, {type ExecutionContext} from 'ava';
import {type BlockRequest, RequestQueue} from '../../source/serve/request-queue.js';

const kib16 = 16 * 1024;
/** Pieces of 32 KiB: two blocks each. */
const pieceLength = 2 * kib16;

const block = (index: number, begin: number, length = kib16): BlockRequest => ({index, begin, length});
const name = ({index, begin, length}: BlockRequest) => `${index}:${begin}+${length}`;

type Step = ['add' | 'cancel', BlockRequest, boolean] | ['shift', string | undefined] | ['clear', string[]];

/** Runs each step, asserting its answer and the size after it, and checks the invariant after each. */
function run(t: ExecutionContext, steps: Array<[Step, number]>): RequestQueue {
	const queue = new RequestQueue(pieceLength);
	for (const [position, [step, size]] of steps.entries()) {
		const label = `step ${position}: ${step[0]}`;
		if (step[0] === 'add' || step[0] === 'cancel') {
			t.is(queue[step[0]](step[1]), step[2], `${label} ${name(step[1])}`);
		} else if (step[0] === 'shift') {
			const shifted = queue.shift();
			t.is(shifted && name(shifted), step[1], label);
		} else {
			t.deepEqual([...queue.clear()].map(name), step[1], label);
		}

		t.is(queue.size, size, `${label}: size`);
		queue.checkInvariant();
	}

	return queue;
}

test('requests are shifted in the order they came', (t) => {
	run(t, [
		[['shift', undefined], 0],
		[['add', block(2, kib16), true], 1],
		[['add', block(0, 0), true], 2],
		[['add', block(1, 0, 100), true], 3],
		[['shift', `2:${kib16}+${kib16}`], 2],
		[['shift', `0:0+${kib16}`], 1],
		[['shift', '1:0+100'], 0],
		[['shift', undefined], 0],
	]);
});

test('a repeat of a queued block is not queued again, whatever its length; once shifted it may be', (t) => {
	run(t, [
		[['add', block(0, 0), true], 1],
		[['add', block(0, 0), false], 1],
		[['add', block(0, 0, 100), false], 1],
		// Same offset in another piece: another block.
		[['add', block(1, 0), true], 2],
		[['shift', `0:0+${kib16}`], 1],
		[['add', block(0, 0), true], 2],
		[['shift', `1:0+${kib16}`], 1],
		[['shift', `0:0+${kib16}`], 0],
	]);
});

test('a cancel removes the request it names (same block and length), and nothing else', (t) => {
	run(t, [
		[['add', block(0, 0), true], 1],
		[['add', block(0, kib16), true], 2],
		[['add', block(1, 0), true], 3],
		[['cancel', block(0, kib16, 100), false], 3],
		[['cancel', block(2, 0), false], 3],
		[['cancel', block(0, kib16), true], 2],
		[['cancel', block(0, kib16), false], 2],
		[['shift', `0:0+${kib16}`], 1],
		// Shifted already: nothing left to cancel.
		[['cancel', block(0, 0), false], 1],
		[['shift', `1:0+${kib16}`], 0],
		[['shift', undefined], 0],
	]);
});

test('a block cancelled and asked for again waits at the back, not in its old place', (t) => {
	run(t, [
		[['add', block(0, 0), true], 1],
		[['add', block(1, 0), true], 2],
		[['cancel', block(0, 0), true], 1],
		[['add', block(0, 0, 100), true], 2],
		[['shift', `1:0+${kib16}`], 1],
		[['shift', '0:0+100'], 0],
		[['shift', undefined], 0],
	]);
});

test('clear empties the queue and returns what was queued in the order it came', (t) => {
	const queue = run(t, [
		[['add', block(1, 0), true], 1],
		[['add', block(0, 0), true], 2],
		[['add', block(0, kib16), true], 3],
		[['cancel', block(0, 0), true], 2],
		[['clear', [`1:0+${kib16}`, `0:${kib16}+${kib16}`]], 0],
		[['shift', undefined], 0],
		[['add', block(0, 0), true], 1],
	]);
	t.is(queue.backlog, 1);
});

test('cancelled gaps are compacted away: a flood of requests and cancels holds a bounded backlog', (t) => {
	const queue = new RequestQueue(pieceLength);
	queue.add(block(0, 0));
	let largest = 0;
	for (let index = 1; index <= 10_000; index++) {
		t.true(queue.add(block(index, 0)));
		t.true(queue.cancel(block(index, 0)));
		largest = Math.max(largest, queue.backlog);
	}

	queue.checkInvariant();
	t.is(queue.size, 1);
	// Compaction runs on an add, when 2 are live (the one kept, the one about to be cancelled): past 2 · 2 + 64.
	t.true(largest <= 2 * 2 + 64, `backlog reached ${largest}`);
	t.is(queue.shift()?.index, 0);
	t.is(queue.shift(), undefined);
	t.is(queue.backlog, 0);
});

test('served requests are compacted away: a queue kept busy for long holds a bounded backlog', (t) => {
	const queue = new RequestQueue(pieceLength);
	queue.add(block(0, 0));
	let largest = 0;
	for (let index = 1; index <= 10_000; index++) {
		queue.add(block(index, 0));
		t.is(queue.shift()?.index, index - 1);
		largest = Math.max(largest, queue.backlog);
	}

	queue.checkInvariant();
	// Compacted once more than 1,024 served entries make up over half of it.
	t.true(largest <= 2 * 1025 + 1, `backlog reached ${largest}`);
	t.is(queue.size, 1);
});

test('a block is keyed by its offset in the torrent: index × pieceLength + begin', (t) => {
	const queue = new RequestQueue(pieceLength);
	t.true(queue.add(block(1, 0)));
	// Never valid on the wire (begin past its piece), but the same key: the queue relies on validation.
	t.false(queue.add(block(0, pieceLength)));
	t.true(queue.cancel(block(0, pieceLength)));
	t.is(queue.size, 0);
});
