import test from 'ava';
import {filter, ignoreElements, NEVER, type Observable, of} from 'rxjs';
import type {AnnounceResponse} from '../../source/codec/tracker-response.js';
import type {AnnounceRequest} from '../../source/tracker/announce-request.js';
import {type AnnouncePort, type AnnouncerOptions, announcer} from '../../source/tracker/announcer.js';
import {testScheduler} from '../helpers/marbles.js';

const peer = {host: '127.0.0.1', port: 6881};

function options(overrides: Partial<AnnouncerOptions>): AnnouncerOptions {
	return {
		tiers: [['http://a/announce']],
		request: () => ({
			infoHash: Buffer.alloc(20, 1),
			peerId: Buffer.alloc(20, 2),
			port: 6881,
			uploaded: 0,
			downloaded: 0,
			left: 100,
			numwant: 50,
		}),
		completed$: NEVER,
		keepAnnouncing: true,
		hungry$: of(false),
		timeoutMs: 300,
		retryDelayMs: 100,
		defaultMinIntervalMs: 30_000,
		...overrides,
	};
}

/** An announce port whose trackers answer from a table of cold Observables, recording each call. */
function fakeTrackers(answer: (url: string, request: AnnounceRequest) => Observable<AnnounceResponse>) {
	const calls: string[] = [];
	const port: AnnouncePort = (url, request) => {
		calls.push(`${url} ${request.event ?? 'regular'}`);
		return answer(url, request);
	};

	return {calls, port};
}

const sent = (tracker: string, event: string) => ({type: 'announce-sent', tracker, event});
const answered = (tracker: string, event: string, interval = 1) => ({
	type: 'announce-answered',
	tracker,
	event,
	peers: [peer],
	interval,
});

test('announces started, then re-announces at the tracker interval, and sends stopped on teardown', (t) => {
	const calls: string[] = [];
	testScheduler(t).run(({cold, expectObservable}) => {
		const trackers = fakeTrackers(() => cold('--r|', {r: {interval: 1, peers: [peer]}}));
		const port: AnnouncePort = (url, request) => {
			calls.push(request.event ?? 'regular');
			return trackers.port(url, request);
		};

		// `interval: 1` is taken as a minute, the floor.
		expectObservable(announcer(port, options({})), '^ 125s !').toBe('s-a 59999ms r-b 59999ms r-b', {
			s: sent('http://a/announce', 'started'),
			a: answered('http://a/announce', 'started'),
			r: sent('http://a/announce', 'regular'),
			b: answered('http://a/announce', 'regular'),
		});
	});
	t.deepEqual(calls, ['started', 'regular', 'regular', 'stopped']);
});

test('tries the tiers in order and moves a tracker that answered to the front of its tier', (t) => {
	testScheduler(t).run(({cold, expectObservable}) => {
		const trackers = fakeTrackers((url) =>
			url === 'http://b/'
				? cold('-----r|', {r: {interval: 1, peers: [peer]}})
				: cold('-#', {}, new Error('refused')),
		);
		const events$ = announcer(trackers.port, options({tiers: [['http://a/', 'http://b/'], ['http://c/']]}));
		expectObservable(events$, '^ 61s !').toBe('A(BC)-D 59999ms E----F', {
			A: sent('http://a/', 'started'),
			B: {type: 'announce-failed', tracker: 'http://a/', event: 'started', reason: 'refused'},
			C: sent('http://b/', 'started'),
			D: answered('http://b/', 'started'),
			E: sent('http://b/', 'regular'),
			F: answered('http://b/', 'regular'),
		});
	});
});

test('backs off exponentially while every tracker fails, and a hanging tracker times out', (t) => {
	testScheduler(t).run(({cold, expectObservable}) => {
		const trackers = fakeTrackers(() => cold('-'));
		const events$ = announcer(
			trackers.port,
			options({tiers: [['http://a/']], timeoutMs: 300, retryDelayMs: 100}),
		);
		const failed = (event: string) => ({
			type: 'announce-failed',
			tracker: 'http://a/',
			event,
			reason: 'no answer within 0.3 s',
		});
		// Sent at 0, timed out at 300; again 100 ms later (400, 700), then 200 ms later (900, 1200).
		expectObservable(events$, '^ 1350ms !').toBe('s 299ms f 99ms s 299ms f 199ms s 299ms f', {
			s: sent('http://a/', 'started'),
			f: failed('started'),
		});
	});
});

test('announces completed once the download completes, then completes and sends stopped', (t) => {
	const calls: string[] = [];
	testScheduler(t).run(({cold, hot, expectObservable}) => {
		const trackers = fakeTrackers(() => cold('-r|', {r: {interval: 60, peers: [peer]}}));
		const port: AnnouncePort = (url, request) => {
			calls.push(request.event ?? 'regular');
			return trackers.port(url, request);
		};

		const completed$ = hot('-----x');
		const events$ = announcer(port, options({completed$, keepAnnouncing: false}));
		expectObservable(events$).toBe('sa---c(d|)', {
			s: sent('http://a/announce', 'started'),
			a: answered('http://a/announce', 'started', 60),
			c: sent('http://a/announce', 'completed'),
			d: answered('http://a/announce', 'completed', 60),
		});
	});
	t.deepEqual(calls, ['started', 'completed', 'stopped']);
});

test('a selection of files finished is not a download complete: no completed, only stopped on the way out', (t) => {
	const calls: string[] = [];
	testScheduler(t).run(({cold, hot, expectObservable}) => {
		const trackers = fakeTrackers(() => cold('-r|', {r: {interval: 60, peers: [peer]}}));
		const port: AnnouncePort = (url, request) => {
			calls.push(request.event ?? 'regular');
			return trackers.port(url, request);
		};

		const completed$ = hot('-----x');
		const events$ = announcer(port, options({completed$, keepAnnouncing: false, whole: () => false}));
		expectObservable(events$).toBe('sa---|', {
			s: sent('http://a/announce', 'started'),
			a: answered('http://a/announce', 'started', 60),
		});
	});
	t.deepEqual(calls, ['started', 'stopped']);
});

test('re-announces early when starving, but not before the tracker min interval', (t) => {
	testScheduler(t).run(({cold, expectObservable}) => {
		const trackers = fakeTrackers(() => cold('-r|', {r: {interval: 1800, minInterval: 15, peers: [peer]}}));
		const events$ = announcer(trackers.port, options({hungry$: of(true)}));
		const answer = (event: string) => ({...answered('http://a/announce', event, 1800)});
		expectObservable(events$, '^ 31000ms !').toBe('sa 14998ms rb 14998ms rb', {
			s: sent('http://a/announce', 'started'),
			a: answer('started'),
			r: sent('http://a/announce', 'regular'),
			b: answer('regular'),
		});
	});
});

test('a min interval of 0 does not make a starving run announce in a busy loop: 10 s at the least', (t) => {
	testScheduler(t).run(({cold, expectObservable}) => {
		const trackers = fakeTrackers(() => cold('-r|', {r: {interval: 1800, minInterval: 0, peers: []}}));
		const events$ = announcer(trackers.port, options({hungry$: of(true)}));
		const answer = (event: string) => ({...answered('http://a/announce', event, 1800), peers: []});
		expectObservable(events$, '^ 21000ms !').toBe('sa 9998ms rb 9998ms rb', {
			s: sent('http://a/announce', 'started'),
			a: answer('started'),
			r: sent('http://a/announce', 'regular'),
			b: answer('regular'),
		});
	});
});

test('completed goes first to the tracker that answered last, past a dead first tier', (t) => {
	testScheduler(t).run(({cold, hot, expectObservable}) => {
		const trackers = fakeTrackers((url, request) =>
			url === 'http://dead/announce' && request.event !== 'completed'
				? cold('#', {}, new Error('down'))
				: url === 'http://dead/announce'
					? NEVER
					: cold('-r|', {r: {interval: 1800, peers: [peer]}}),
		);
		const completed$ = hot('--- 100ms c');
		const events$ = announcer(
			trackers.port,
			options({tiers: [['http://dead/announce'], ['http://b/announce']], completed$, keepAnnouncing: false}),
		);
		const lastWords$ = events$.pipe(filter((event) => event.event === 'completed'));
		// The dead tracker is never asked: it would hang the `completed` announce.
		expectObservable(lastWords$).toBe('103ms c(d|)', {
			c: sent('http://b/announce', 'completed'),
			d: answered('http://b/announce', 'completed', 1800),
		});
	});
});

test('a torrent without trackers announces nothing', (t) => {
	testScheduler(t).run(({expectObservable}) => {
		const trackers = fakeTrackers(() => NEVER);
		expectObservable(announcer(trackers.port, options({tiers: []}))).toBe('|');
	});
});

test('a tracker answering `interval: 1` is asked again after a minute, not every second', (t) => {
	const calls: string[] = [];
	testScheduler(t).run(({cold, expectObservable}) => {
		const trackers = fakeTrackers(() => cold('-r|', {r: {interval: 1, peers: [peer]}}));
		const port: AnnouncePort = (url, request) => {
			calls.push(request.event ?? 'regular');
			return trackers.port(url, request);
		};

		expectObservable(announcer(port, options({})).pipe(ignoreElements()), '^ 150s !').toBe('');
	});
	t.deepEqual(calls, ['started', 'regular', 'regular', 'stopped']);
});
