import test from 'ava';
import {RedialSchedule} from '../../source/swarm/redials.js';

test('a peer that keeps leaving is called again after a doubling delay, at most maxRedials times in a row', (t) => {
	const redials = new RedialSchedule(1000, 3);
	t.deepEqual(
		[1, 2, 3, 4, 5].map(() => redials.left('a')),
		[1000, 2000, 4000, undefined, undefined],
	);
	t.is(redials.left('b'), 1000, 'counted per peer');
});

test('a verified piece from the peer starts its count again', (t) => {
	const redials = new RedialSchedule(500, 2);
	t.is(redials.left('a'), 500);
	t.is(redials.left('a'), 1000);
	redials.delivered('a');
	t.is(redials.left('a'), 500);
});
