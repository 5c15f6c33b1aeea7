import http from 'node:http';
import type {AddressInfo} from 'node:net';
import test, {type ExecutionContext} from 'ava';
import {firstValueFrom, lastValueFrom, toArray} from 'rxjs';
import {encodeBencode} from '../../source/codec/bencode.js';
import {TrackerError} from '../../source/errors.js';
import {
	type AnnounceRequest,
	announceUrl,
	percentEncodeBytes,
} from '../../source/tracker/announce-request.js';
import {announceHttp} from '../../source/tracker/http.js';
import {shuffleTiers} from '../../source/tracker/tiers.js';

/** 20 bytes mixing unreserved characters, URL delimiters, `%`, NUL and high bytes. */
const infoHash = Buffer.from([
	0x00, 0x20, 0x25, 0x26, 0x2b, 0x2d, 0x2e, 0x30, 0x3d, 0x41, 0x5f, 0x61, 0x7e, 0x7f, 0x80, 0xaa, 0xfe, 0xff,
	0x3f, 0x23,
]);
const peerId = Buffer.from('-RX0001-\u00ff\u0000 %&=?#+/~x', 'latin1');

const request: AnnounceRequest = {
	infoHash,
	peerId,
	port: 6881,
	uploaded: 1024,
	downloaded: 2048,
	left: 4_294_967_296,
	event: 'started',
	numwant: 50,
};

type Seen = {url: string; closed: Promise<void>};

/**
 * A real tracker on 127.0.0.1 port 0 that records each request's raw URL and answers with
 * `respond`; closed (with every socket) when the test ends.
 */
async function startTracker(
	t: ExecutionContext,
	respond: (incoming: http.IncomingMessage, outgoing: http.ServerResponse) => void,
): Promise<{url: string; seen: Seen[]}> {
	const seen: Seen[] = [];
	const server = http.createServer((incoming, outgoing) => {
		const closed = new Promise<void>((resolve) => {
			incoming.socket.once('close', () => resolve());
		});
		seen.push({url: incoming.url ?? '', closed});
		respond(incoming, outgoing);
	});
	await new Promise<void>((resolve) => {
		server.listen(0, '127.0.0.1', resolve);
	});
	t.teardown(
		() =>
			new Promise<void>((resolve) => {
				server.closeAllConnections();
				server.close(() => resolve());
			}),
	);
	const {port} = server.address() as AddressInfo;
	return {url: `http://127.0.0.1:${port}/announce`, seen};
}

const bencoded = (value: unknown) => (_incoming: http.IncomingMessage, outgoing: http.ServerResponse) => {
	outgoing.writeHead(200, {'content-type': 'text/plain'});
	outgoing.end(encodeBencode(value));
};

/** Decodes one query value byte for byte (not as UTF-8): `%XX` is one byte, anything else itself. */
function rawQueryBytes(url: string, key: string): Buffer | undefined {
	const query = url.slice(url.indexOf('?') + 1);
	for (const pair of query.split('&')) {
		const [name, value = ''] = pair.split('=');
		if (name !== key) {
			continue;
		}

		const bytes: number[] = [];
		for (let index = 0; index < value.length; index++) {
			if (value[index] === '%') {
				bytes.push(Number.parseInt(value.slice(index + 1, index + 3), 16));
				index += 2;
			} else {
				bytes.push(value.charCodeAt(index));
			}
		}

		return Buffer.from(bytes);
	}

	return undefined;
}

test('announces with the BEP 3 query and parses the reply', async (t) => {
	const tracker = await startTracker(
		t,
		bencoded({interval: 900, complete: 4, incomplete: 2, peers: Buffer.from('7f0000011ae1', 'hex')}),
	);
	const response = await firstValueFrom(announceHttp(tracker.url, request, {timeoutMs: 2000}));
	t.deepEqual(response, {interval: 900, peers: [{host: '127.0.0.1', port: 6881}], seeders: 4, leechers: 2});

	t.is(tracker.seen.length, 1);
	const url = tracker.seen[0]?.url ?? '';
	t.true(url.startsWith('/announce?'));
	t.deepEqual(rawQueryBytes(url, 'info_hash'), infoHash);
	t.deepEqual(rawQueryBytes(url, 'peer_id'), peerId);
	const query = new URLSearchParams(url.slice(url.indexOf('?') + 1));
	t.is(query.get('port'), '6881');
	t.is(query.get('uploaded'), '1024');
	t.is(query.get('downloaded'), '2048');
	t.is(query.get('left'), '4294967296');
	t.is(query.get('compact'), '1');
	t.is(query.get('numwant'), '50');
	t.is(query.get('event'), 'started');
	t.false(query.has('trackerid'));
});

test('the info_hash and peer_id travel percent-encoded, unreserved bytes as themselves', async (t) => {
	const tracker = await startTracker(t, bencoded({interval: 60, peers: Buffer.alloc(0)}));
	await firstValueFrom(announceHttp(tracker.url, request, {timeoutMs: 2000}));
	const url = tracker.seen[0]?.url ?? '';
	const value = /[?&]info_hash=([^&]*)/.exec(url)?.[1];
	t.is(value, '%00%20%25%26%2B-.0%3DA_a~%7F%80%AA%FE%FF%3F%23');
	t.is(/[?&]peer_id=([^&]*)/.exec(url)?.[1], '-RX0001-%FF%00%20%25%26%3D%3F%23%2B%2F~x');
});

test('a regular re-announce has no event; a tracker id is sent back', async (t) => {
	const tracker = await startTracker(t, bencoded({interval: 60, peers: Buffer.alloc(0)}));
	const {event: _event, ...regular} = request;
	await firstValueFrom(announceHttp(tracker.url, {...regular, trackerId: 'id &1'}, {timeoutMs: 2000}));
	const query = new URLSearchParams((tracker.seen[0]?.url ?? '').split('?')[1]);
	t.false(query.has('event'));
	t.is(query.get('trackerid'), 'id &1');
});

test('keeps a query already in the tracker URL (passkey)', async (t) => {
	const tracker = await startTracker(t, bencoded({interval: 60, peers: Buffer.alloc(0)}));
	await firstValueFrom(announceHttp(`${tracker.url}?passkey=s3cr3t`, request, {timeoutMs: 2000}));
	const url = tracker.seen[0]?.url ?? '';
	t.true(url.startsWith('/announce?passkey=s3cr3t&info_hash='), url);
	t.deepEqual(rawQueryBytes(url, 'info_hash'), infoHash);
	t.is(new URLSearchParams(url.split('?')[1]).get('passkey'), 's3cr3t');
});

test('emits exactly one reply and completes', async (t) => {
	const tracker = await startTracker(t, bencoded({interval: 60, peers: Buffer.alloc(0)}));
	const replies = await lastValueFrom(announceHttp(tracker.url, request, {timeoutMs: 2000}).pipe(toArray()));
	t.deepEqual(replies, [{interval: 60, peers: []}]);
});

test('a failure reason is a TrackerError with the tracker’s words', async (t) => {
	const tracker = await startTracker(t, bencoded({'failure reason': 'torrent not registered'}));
	await t.throwsAsync(firstValueFrom(announceHttp(tracker.url, request, {timeoutMs: 2000})), {
		instanceOf: TrackerError,
		message: /torrent not registered/,
	});
});

test('HTTP 500 is a TrackerError naming the status', async (t) => {
	const tracker = await startTracker(t, (_incoming, outgoing) => {
		outgoing.writeHead(500);
		outgoing.end('internal error');
	});
	const error = await t.throwsAsync(firstValueFrom(announceHttp(tracker.url, request, {timeoutMs: 2000})), {
		instanceOf: TrackerError,
		message: /HTTP 500/,
	});
	t.true(error?.message.startsWith(tracker.url));
});

test('a malformed reply is a TrackerError', async (t) => {
	const tracker = await startTracker(t, (_incoming, outgoing) => {
		outgoing.writeHead(200);
		outgoing.end('<html>oops</html>');
	});
	await t.throwsAsync(firstValueFrom(announceHttp(tracker.url, request, {timeoutMs: 2000})), {
		instanceOf: TrackerError,
		message: /malformed reply/,
	});
});

test('a tracker that never answers is a TrackerError within the timeout', async (t) => {
	const tracker = await startTracker(t, () => {
		// Never answer.
	});
	const started = performance.now();
	await t.throwsAsync(firstValueFrom(announceHttp(tracker.url, request, {timeoutMs: 200})), {
		instanceOf: TrackerError,
		message: /no reply within 200 ms/,
	});
	const elapsed = performance.now() - started;
	t.true(elapsed >= 150 && elapsed < 2000, `took ${Math.round(elapsed)} ms`);
	await tracker.seen[0]?.closed;
});

test('a tracker that stalls in the middle of its reply is a TrackerError within the timeout', async (t) => {
	const tracker = await startTracker(t, (_incoming, outgoing) => {
		outgoing.writeHead(200, {'content-length': '100'});
		outgoing.write('d8:interval');
	});
	await t.throwsAsync(firstValueFrom(announceHttp(tracker.url, request, {timeoutMs: 200})), {
		instanceOf: TrackerError,
		message: /no reply within 200 ms/,
	});
	t.is(tracker.seen.length, 1);
});

test('a reply cut short by the tracker is a TrackerError', async (t) => {
	const tracker = await startTracker(t, (incoming, outgoing) => {
		outgoing.writeHead(200, {'content-length': '100'});
		outgoing.write('d8:intervali60e', () => incoming.socket.destroy());
	});
	await t.throwsAsync(firstValueFrom(announceHttp(tracker.url, request, {timeoutMs: 2000})), {
		instanceOf: TrackerError,
		message: /reply interrupted/,
	});
});

test('a refused connection is a TrackerError', async (t) => {
	const server = http.createServer();
	await new Promise<void>((resolve) => {
		server.listen(0, '127.0.0.1', resolve);
	});
	const {port} = server.address() as AddressInfo;
	await new Promise<void>((resolve) => {
		server.close(() => resolve());
	});
	await t.throwsAsync(
		firstValueFrom(announceHttp(`http://127.0.0.1:${port}/announce`, request, {timeoutMs: 2000})),
		{instanceOf: TrackerError, message: /ECONNREFUSED/},
	);
});

test('unsubscribing aborts the request: the tracker sees the socket close', async (t) => {
	let arrived: () => void = () => undefined;
	const requestArrived = new Promise<void>((resolve) => {
		arrived = resolve;
	});
	const tracker = await startTracker(t, () => {
		arrived();
	});
	const events: string[] = [];
	const subscription = announceHttp(tracker.url, request, {timeoutMs: 10_000}).subscribe({
		next: () => events.push('next'),
		error: () => events.push('error'),
		complete: () => events.push('complete'),
	});
	await requestArrived;
	subscription.unsubscribe();
	const closed = await Promise.race([
		tracker.seen[0]?.closed.then(() => 'closed'),
		new Promise((resolve) => {
			setTimeout(() => resolve('still open'), 2000);
		}),
	]);
	t.is(closed, 'closed');
	t.deepEqual(events, [], 'nothing is emitted after unsubscribing');
});

test('percentEncodeBytes keeps only RFC 3986 unreserved characters', (t) => {
	t.is(percentEncodeBytes(Buffer.from('AZaz09.-_~')), 'AZaz09.-_~');
	t.is(percentEncodeBytes(Buffer.from([0x00, 0x0a, 0x20, 0x2f, 0x7f, 0x80, 0xff])), '%00%0A%20%2F%7F%80%FF');
	t.is(percentEncodeBytes(Buffer.from('a b&c=d%e+f', 'latin1')), 'a%20b%26c%3Dd%25e%2Bf');
	t.is(percentEncodeBytes(Buffer.alloc(0)), '');
});

test('percentEncodeBytes round-trips all 256 byte values', (t) => {
	const all = Buffer.from(Array.from({length: 256}, (_, index) => index));
	const encoded = percentEncodeBytes(all);
	t.regex(encoded, /^(?:[A-Za-z0-9.\-_~]|%[0-9A-F]{2})+$/);
	t.deepEqual(rawQueryBytes(`?x=${encoded}`, 'x'), all);
	t.is(encoded.length, 66 + (256 - 66) * 3);
});

test('announceUrl appends with ? or & as the tracker URL needs', (t) => {
	t.regex(announceUrl('http://t.example/announce', request), /^http:\/\/t\.example\/announce\?info_hash=/);
	t.regex(announceUrl('http://t.example/a?k=1', request), /^http:\/\/t\.example\/a\?k=1&info_hash=/);
});

/** A scripted random source: returns the given values in turn. */
function scripted(...values: number[]): () => number {
	let next = 0;
	return () => values[next++ % values.length] ?? 0;
}

test('shuffleTiers keeps the tiers in order and permutes within each', (t) => {
	const tiers = [['a1', 'a2', 'a3', 'a4'], ['b1'], ['c1', 'c2']];
	for (let seed = 0; seed < 20; seed++) {
		const shuffled = shuffleTiers(tiers, scripted(((seed * 0.37) % 1) + 0.001, 0.5, 0.99, 0.2));
		t.is(shuffled.length, 3);
		for (const [index, tier] of shuffled.entries()) {
			t.deepEqual([...tier].sort(), [...(tiers[index] ?? [])].sort());
		}
	}
});

test('shuffleTiers is deterministic with an injected random (Fisher–Yates)', (t) => {
	const tiers = [
		['a', 'b', 'c', 'd'],
		['x', 'y'],
	];
	// Tier 1: index 3 swaps with floor(0·4)=0, index 2 with floor(0·3)=0, index 1 with floor(0·2)=0.
	t.deepEqual(
		shuffleTiers(tiers, () => 0),
		[
			['b', 'c', 'd', 'a'],
			['y', 'x'],
		],
	);
	// With values just below 1 each index swaps with itself: the order is kept.
	t.deepEqual(
		shuffleTiers(tiers, () => 0.999_999),
		tiers,
	);
	t.deepEqual(
		shuffleTiers(tiers, scripted(0.5, 0.1, 0.9, 0.3)),
		shuffleTiers(tiers, scripted(0.5, 0.1, 0.9, 0.3)),
	);
});

test('shuffleTiers does not modify its input', (t) => {
	const tiers = [['a', 'b', 'c']];
	shuffleTiers(tiers, () => 0);
	t.deepEqual(tiers, [['a', 'b', 'c']]);
});

test('shuffleTiers reaches every order of a tier', (t) => {
	const orders = new Set<string>();
	let state = 1;
	const random = () => {
		// A small linear congruential generator: deterministic and well spread.
		state = (state * 1_103_515_245 + 12_345) % 2_147_483_648;
		return state / 2_147_483_648;
	};

	for (let run = 0; run < 500; run++) {
		orders.add(shuffleTiers([['a', 'b', 'c']], random)[0]?.join('') ?? '');
	}

	t.deepEqual([...orders].sort(), ['abc', 'acb', 'bac', 'bca', 'cab', 'cba']);
});

test('SSRF: a tracker on a loopback address is asked only at /announce; any other path is refused unasked', async (t) => {
	const tracker = await startTracker(t, bencoded({interval: 60, peers: Buffer.alloc(0)}));
	const elsewhere = tracker.url.replace('/announce', '/cgi-bin/admin');
	const error = await t.throwsAsync(firstValueFrom(announceHttp(elsewhere, request, {timeoutMs: 2000})), {
		instanceOf: TrackerError,
	});
	t.regex(error?.message ?? '', /local address.*\/announce/);
	t.is(tracker.seen.length, 0);
});

test('SSRF: a tracker name that resolves to a private or loopback address is asked only at /announce', async (t) => {
	const tracker = await startTracker(t, bencoded({interval: 60, peers: Buffer.alloc(0)}));
	const port = new URL(tracker.url).port;
	const lookup: typeof import('node:dns').lookup = ((
		_hostname: string,
		options: {all?: boolean},
		callback: (...values: unknown[]) => void,
	) => {
		if (options.all) {
			callback(null, [{address: '127.0.0.1', family: 4}]);
		} else {
			callback(null, '127.0.0.1', 4);
		}
	}) as never;
	const error = await t.throwsAsync(
		firstValueFrom(announceHttp(`http://tracker.test:${port}/cgi`, request, {timeoutMs: 2000, lookup})),
		{instanceOf: TrackerError},
	);
	t.regex(error?.message ?? '', /local address.*\/announce/);
	t.is(tracker.seen.length, 0);
	// At /announce the same name is asked.
	await firstValueFrom(
		announceHttp(`http://tracker.test:${port}/announce`, request, {timeoutMs: 2000, lookup}),
	);
	t.is(tracker.seen.length, 1);
});

test('SSRF: a redirect is never followed, so it cannot lead to a private address', async (t) => {
	let target = '';
	const tracker = await startTracker(t, (incoming, outgoing) => {
		if (incoming.url?.startsWith('/announce')) {
			outgoing.writeHead(302, {location: target});
			outgoing.end();
		} else {
			bencoded({interval: 60, peers: Buffer.alloc(0)})(incoming, outgoing);
		}
	});
	target = tracker.url.replace('/announce', '/secret');
	await t.throwsAsync(firstValueFrom(announceHttp(tracker.url, request, {timeoutMs: 2000})), {
		instanceOf: TrackerError,
		message: /HTTP 302/,
	});
	t.deepEqual(
		tracker.seen.map((seen) => seen.url.split('?')[0]),
		['/announce'],
	);
});
