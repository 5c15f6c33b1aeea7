import test from 'ava';
import {normalPriority, notWanted, WantedPieces} from '../../source/download/wanted-pieces.js';

test('by default every piece is wanted at the normal priority: uniform, the picker’s fast path', (t) => {
	const wanted = new WantedPieces(5);
	t.true(wanted.uniform);
	t.is(wanted.wantedCount, 5);
	t.is(wanted.topPriority, normalPriority);
	t.true([0, 1, 2, 3, 4].every((index) => wanted.priorityOf(index) === normalPriority));
});

test('a priority changed, the counts follow: uniform no longer, the top priority, the wanted count', (t) => {
	const wanted = new WantedPieces(4);
	wanted.set(1, 7);
	t.false(wanted.uniform);
	t.is(wanted.topPriority, 7);
	t.is(wanted.wantedCount, 4);
	wanted.set(2, notWanted);
	t.false(wanted.isWanted(2));
	t.is(wanted.wantedCount, 3);
	wanted.set(1, normalPriority);
	t.false(wanted.uniform, 'piece 2 is still not wanted');
	wanted.set(2, normalPriority);
	t.true(wanted.uniform);
	t.is(wanted.topPriority, normalPriority);
});

test('every piece at one other priority is uniform too; none wanted is not', (t) => {
	const wanted = new WantedPieces(2, 1);
	t.true(wanted.uniform);
	wanted.setRange(0, 1, notWanted);
	t.false(wanted.uniform);
	t.is(wanted.wantedCount, 0);
	t.is(wanted.topPriority, notWanted);
});

test('the watcher hears each change once, with the priority before and after; a repeat is no change', (t) => {
	const wanted = new WantedPieces(3);
	const heard: Array<[number, number, number]> = [];
	wanted.watch((index, before, after) => heard.push([index, before, after]));
	wanted.setRange(0, 1, notWanted);
	wanted.set(1, notWanted);
	wanted.set(2, 6);
	t.deepEqual(heard, [
		[0, normalPriority, notWanted],
		[1, normalPriority, notWanted],
		[2, normalPriority, 6],
	]);
	t.throws(() => wanted.watch(() => undefined), {message: /already/}, 'a second picker would miss changes');
});

test('a priority that is no byte, or a piece out of range, is refused', (t) => {
	const wanted = new WantedPieces(3);
	t.throws(() => wanted.set(0, 256), {instanceOf: RangeError});
	t.throws(() => wanted.set(0, -1), {instanceOf: RangeError});
	t.throws(() => wanted.set(0, 1.5), {instanceOf: RangeError});
	t.throws(() => wanted.set(3, 1), {instanceOf: RangeError});
	t.true(wanted.uniform, 'nothing changed');
});
