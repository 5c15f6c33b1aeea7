import test from 'ava';
import {PieceAvailability} from '../../source/download/piece-availability.js';

test('the rarest needed piece that anyone has, kept as peers come and pieces are started', (t) => {
	const needed = new Set([0, 1, 2]);
	const availability = new PieceAvailability(3, (index) => needed.has(index));
	t.is(availability.rarest(), Number.POSITIVE_INFINITY, 'nobody has anything');
	for (const index of [0, 1, 2]) {
		availability.add(index, 1);
	}

	availability.add(0, 1);
	availability.add(1, 1);
	t.is(availability.rarest(), 1, 'piece 2 is had by one peer');
	availability.neededChanged(2, -1);
	needed.delete(2);
	t.is(availability.rarest(), 2, 'piece 2 was started: the others are had by two');
	availability.add(2, -1);
	availability.add(2, -1);
	t.is(availability.of(2), 0, 'never below none');
	needed.add(2);
	availability.neededChanged(2, 1);
	t.is(availability.rarest(), 2, 'a needed piece nobody has does not count');
});
