import test from 'ava';
import {firstValueFrom, type Observable, type Subscription} from 'rxjs';
import {TrackerError} from '../../source/errors.js';
import type {AnnounceRequest} from '../../source/tracker/announce-request.js';
import {announceHttp} from '../../source/tracker/http.js';
import {serveTracker, type TrackerServer} from '../../source/tracker/server.js';

/** Starts the tracker for one test and stops it afterwards. */
async function startTracker(t: {teardown(fn: () => void): void}): Promise<TrackerServer> {
	let subscription: Subscription | undefined;
	const server = await new Promise<TrackerServer>((resolve, reject) => {
		const tracker$: Observable<TrackerServer> = serveTracker({
			host: '127.0.0.1',
			port: 0,
			intervalSeconds: 60,
		});
		subscription = tracker$.subscribe({next: resolve, error: reject});
	});
	t.teardown(() => subscription?.unsubscribe());
	return server;
}

// Bytes that URL-decode badly as UTF-8: the tracker must read them as raw bytes.
const infoHash = Buffer.from('ff00fe8041424344e9e8c3a0000102030405feff', 'hex');
const request = (port: number, extra: Partial<AnnounceRequest> = {}): AnnounceRequest => ({
	infoHash,
	peerId: Buffer.from(`-RX0001-${String(port).padStart(12, '0')}`),
	port,
	uploaded: 0,
	downloaded: 0,
	left: 100,
	numwant: 50,
	...extra,
});

const announce = (url: string, announceRequest: AnnounceRequest) =>
	firstValueFrom(announceHttp(url, announceRequest, {timeoutMs: 5000}));

test('peers of the same torrent learn of each other; a stopped peer is forgotten', async (t) => {
	const {url} = await startTracker(t);
	const first = await announce(url, request(6001, {event: 'started', left: 0}));
	t.deepEqual(first.peers, []);
	const second = await announce(url, request(6002, {event: 'started'}));
	t.deepEqual(second.peers, [{host: '127.0.0.1', port: 6001}]);
	t.is(second.seeders, 1);
	t.is(second.leechers, 1);
	t.is(second.interval, 60);
	await announce(url, request(6001, {event: 'stopped'}));
	const again = await announce(url, request(6002));
	t.deepEqual(again.peers, []);
});

test('another info hash is another swarm', async (t) => {
	const {url} = await startTracker(t);
	await announce(url, request(6001));
	const other = await announce(url, {...request(6002), infoHash: Buffer.alloc(20, 7)});
	t.deepEqual(other.peers, []);
});

test('a malformed announce gets a failure reason', async (t) => {
	const {url} = await startTracker(t);
	await t.throwsAsync(announce(url, {...request(6001), infoHash: Buffer.alloc(5)}), {
		instanceOf: TrackerError,
		message: /tracker failure: bad announce/,
	});
});
