import type {ExecutionContext} from 'ava';
import {TestScheduler} from 'rxjs/testing';

/** A TestScheduler whose assertions are ava's: marble diagrams in virtual time. */
export function testScheduler(t: ExecutionContext): TestScheduler {
	return new TestScheduler((actual, expected) => {
		t.deepEqual(actual, expected);
	});
}
