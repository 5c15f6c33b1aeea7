import test from 'ava';
import {PeerProtocolError, StorageError} from '../../source/errors.js';
import type {RunEvent} from '../../source/events/events.js';
import {sayGoodbye} from '../../source/session/goodbye.js';
import {testScheduler} from '../helpers/marbles.js';

const peer = '127.0.0.2:6881';
const event: RunEvent = {type: 'peer-unchoked', peer};
const disconnected = (reason: string): RunEvent => ({type: 'peer-disconnected', peer, reason});

test('a session that completes ends with “connection closed”', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const session$ = cold<RunEvent>('-e-|', {e: event});
		expectObservable(session$.pipe(sayGoodbye(peer))).toBe('-e-(d|)', {
			e: event,
			d: disconnected('connection closed'),
		});
		expectSubscriptions(session$.subscriptions).toBe('^--!');
	});
});

test('a session that fails ends with the reason, as an event: the swarm goes on', (t) => {
	testScheduler(t).run(({cold, expectObservable}) => {
		const session$ = cold<RunEvent>(
			'-e-#',
			{e: event},
			new PeerProtocolError('bad block', {cause: new Error('x')}),
		);
		expectObservable(session$.pipe(sayGoodbye(peer))).toBe('-e-(d|)', {
			e: event,
			d: disconnected('bad block: x'),
		});
	});
});

test('a StorageError goes on failing the run, with no goodbye: no peer can fix the disk', (t) => {
	const error = new StorageError('disk full');
	testScheduler(t).run(({cold, expectObservable}) => {
		const session$ = cold<RunEvent>('-e-#', {e: event}, error);
		expectObservable(session$.pipe(sayGoodbye(peer))).toBe('-e-#', {e: event}, error);
	});
});

test('the upload not yet reported when the session ends comes before the goodbye, and is then reported', (t) => {
	const stats = {unreported: 0};
	testScheduler(t).run(({hot, expectObservable}) => {
		// Served blocks add to the unreported bytes while the session runs, as serveToPeer does.
		hot('--a-b', {a: 100, b: 200}).subscribe((bytes) => {
			stats.unreported += bytes;
		});
		const session$ = hot<RunEvent>('-----#', undefined, new PeerProtocolError('gone'));
		expectObservable(session$.pipe(sayGoodbye(peer, stats))).toBe('-----(ud|)', {
			u: {type: 'uploaded', peer, bytes: 300},
			d: disconnected('gone'),
		});
	});
	t.is(stats.unreported, 0);
});

test('with nothing unreported, only the goodbye', (t) => {
	const stats = {unreported: 0};
	testScheduler(t).run(({cold, expectObservable}) => {
		expectObservable(cold<RunEvent>('--|').pipe(sayGoodbye(peer, stats))).toBe('--(d|)', {
			d: disconnected('connection closed'),
		});
	});
});
