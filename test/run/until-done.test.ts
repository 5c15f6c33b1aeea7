import test from 'ava';
import {Subject} from 'rxjs';
import type {RunHelpers} from 'rxjs/testing';
import type {RunEvent} from '../../source/events/events.js';
import {untilDone} from '../../source/run/until-done.js';
import {testScheduler} from '../helpers/marbles.js';

const values: Record<string, RunEvent> = {
	a: {type: 'announce-sent', tracker: 'http://tracker', event: 'started'},
	b: {type: 'announce-sent', tracker: 'http://tracker', event: 'completed'},
	p: {type: 'peer-connected', peer: '127.0.0.2:6881', peerId: 'x'},
	n: {type: 'no-peers'},
	c: {type: 'completed', bytes: 100},
	s: {type: 'seeding'},
};
const options = {totalLength: 100, completeAtStart: false, uploaded: () => 0};

test('without seeding: the swarm ends with `completed`, starving is no news after it, and the run ends with the tracker loop', (t) => {
	testScheduler(t).run(({cold, hot, expectObservable, expectSubscriptions}) => {
		const tracker$ = cold<RunEvent>('a-------b--|', values);
		const swarm$ = hot<RunEvent>('   --p--c--p', values);
		const starving$ = hot<RunEvent>('---n----n', values);
		const completed$ = new Subject<void>();
		expectObservable(completed$).toBe('-----(x|)', {x: undefined});
		expectObservable(untilDone({tracker$, swarm$, starving$}, completed$, options)).toBe(
			'a-pn-c--b--|',
			values,
		);
		expectSubscriptions(swarm$.subscriptions).toBe('    ^----!');
		expectSubscriptions(starving$.subscriptions).toBe(' ^----!');
		expectSubscriptions(tracker$.subscriptions).toBe('  ^----------!');
	});
});

test('complete at the start: `completed` comes first, at once', (t) => {
	testScheduler(t).run(({cold, hot, expectObservable}) => {
		const tracker$ = cold<RunEvent>('a----|', values);
		const swarm$ = hot<RunEvent>('   -p', values);
		const completed$ = new Subject<void>();
		expectObservable(
			untilDone({tracker$, swarm$, starving$: hot('-')}, completed$, {...options, completeAtStart: true}),
		).toBe('(ca)-|', values);
	});
});

test('seeding for a time: `seeding` after `completed`, and the whole run, tracker loop and all, ends when the time is up', (t) => {
	testScheduler(t).run(({cold, hot, expectObservable, expectSubscriptions}) => {
		const tracker$ = cold<RunEvent>('a-------b--------', values);
		const swarm$ = hot<RunEvent>('   --c---p------', values);
		const completed$ = new Subject<void>();
		expectObservable(
			untilDone({tracker$, swarm$, starving$: hot('-')}, completed$, {...options, seed: {timeMs: 10}}),
		).toBe('a-(cs)p-b---|', values);
		expectSubscriptions(tracker$.subscriptions).toBe('^-----------!');
		expectSubscriptions(swarm$.subscriptions).toBe('  ^-----------!');
	});
});

/**
 * A run seeding to ratio 1 of the 100-byte torrent, its tracker announcing once; each
 * peer-connected in `swarmMarbles` stands for `uploadedPerPeer` bytes uploaded.
 */
function seedingToRatio(
	{cold, hot}: Pick<RunHelpers, 'cold' | 'hot'>,
	swarmMarbles: string,
	uploadedPerPeer: number,
) {
	let uploaded = 0;
	const swarm$ = hot<RunEvent>(swarmMarbles, values);
	swarm$.subscribe((event) => {
		if (event.type === 'peer-connected') {
			uploaded += uploadedPerPeer;
		}
	});
	return untilDone(
		{tracker$: cold<RunEvent>('a', values), swarm$, starving$: hot('-')},
		new Subject<void>(),
		{
			...options,
			uploaded: () => uploaded,
			seed: {ratio: 1},
		},
	);
}

test('seeding to a ratio reached before completion: it counts from the moment of completion', (t) => {
	testScheduler(t).run((helpers) => {
		helpers.expectObservable(seedingToRatio(helpers, '-p---c-p', 100)).toBe('ap---(cs|)', values);
	});
});

test('seeding to a ratio: the event that crosses it still comes out; the run ends in the same moment', (t) => {
	testScheduler(t).run((helpers) => {
		helpers.expectObservable(seedingToRatio(helpers, '-c----p--p', 50)).toBe('a(cs)-p--(p|)', values);
	});
});
