import test from 'ava';
import {KeyExchangeBudget} from '../../source/peer/key-exchange-budget.js';

test('a burst at once, then the rate: tokens come back with time, never more than the burst', (t) => {
	let now = 0;
	const budget = new KeyExchangeBudget({perSecond: 10, burst: 3, now: () => now});
	t.deepEqual([budget.take(), budget.take(), budget.take(), budget.take()], [true, true, true, false]);
	now = 99;
	t.false(budget.take(), 'not yet a whole token back');
	now = 100;
	t.true(budget.take(), 'one back after a tenth of a second');
	t.false(budget.take());
	now = 60_000;
	t.deepEqual(
		[budget.take(), budget.take(), budget.take(), budget.take()],
		[true, true, true, false],
		'a quiet minute gives back the burst, not six hundred',
	);
});
