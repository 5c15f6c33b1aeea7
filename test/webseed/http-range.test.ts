/**
 * The web seed's HTTP layer (BEP 19) against the fault server of test/helpers on 127.0.0.1: real
 * sockets, real keep-alive, servers that ignore Range, lie about it, stall, reset and redirect.
 *
 * The SSRF rule needs a seed on a *public* address, and every server here is on 127.0.0.1. The
 * tests that need one pass `isLocal` so that 127.0.0.1 counts as public (every other address keeps
 * `isLocalAddress`'s verdict); the refused targets (10.0.0.1, 192.168.1.1 behind a name,
 * localhost) are then refused before any connection, and names reach the server through a
 * `lookup` that maps them to 127.0.0.1.
 */
import {execFile} from 'node:child_process';
import type {LookupAddress} from 'node:dns';
import {open, readFile} from 'node:fs/promises';
import net, {type LookupFunction} from 'node:net';
import path from 'node:path';
import {promisify} from 'node:util';
import test, {type ExecutionContext} from 'ava';
import {concatMap, from, lastValueFrom, retry, take, toArray} from 'rxjs';
import {isLocalAddress} from '../../source/peer/address-scope.js';
import {
	type RangeClient,
	type RangeClientOptions,
	type RangeRequest,
	rangeClient,
	WebSeedError,
	type WebSeedFailureKind,
} from '../../source/webseed/http-range.js';
import {type FaultServer, type FaultServerOptions, faultHttpServer} from '../helpers/fault-http-server.js';
import {listenOnLoopback, pseudoRandomBytes, tempDir} from '../helpers/swarm-fixture.js';

const file = pseudoRandomBytes(1 << 20, 'web seed file');

const defaults: RangeClientOptions = {stallTimeoutMs: 3000, maxRedirects: 5, maxSocketsPerHost: 2};

/** A client for the test, released (its agents destroyed) on teardown. */
function clientFor(t: ExecutionContext, options: Partial<RangeClientOptions> = {}): RangeClient {
	let client: RangeClient | undefined;
	const subscription = rangeClient({...defaults, ...options}).subscribe((emitted) => {
		client = emitted;
	});
	t.teardown(() => subscription.unsubscribe());
	if (!client) {
		throw new Error('rangeClient emits its client at once');
	}

	return client;
}

async function serverFor(t: ExecutionContext, options: FaultServerOptions = {}): Promise<FaultServer> {
	t.timeout(15_000);
	return faultHttpServer(t, {files: {'/file.bin': file, '/small.bin': file.subarray(0, 1000)}}, options);
}

async function fetchAll(client: RangeClient, request: RangeRequest): Promise<Buffer> {
	return Buffer.concat(await lastValueFrom(client.fetch(request).pipe(toArray())));
}

/** The WebSeedError a fetch fails with, checked for its kind and retryable flag. */
async function failure(
	t: ExecutionContext,
	client: RangeClient,
	request: RangeRequest,
	kind: WebSeedFailureKind,
	retryable: boolean,
): Promise<WebSeedError> {
	const error = await t.throwsAsync(fetchAll(client, request), {instanceOf: WebSeedError});
	t.is(error?.kind, kind, error?.message);
	t.is(error?.retryable, retryable);
	return error as WebSeedError;
}

/** A lookup that knows only `names`, answering the way node's own does (one address, or all). */
function lookupOf(names: Record<string, string>): LookupFunction {
	return (hostname, options, callback) => {
		const address = names[hostname];
		if (address === undefined) {
			callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), {code: 'ENOTFOUND'}), '', 0);
			return;
		}

		const family = net.isIP(address);
		if (options.all) {
			callback(null, [{address, family} satisfies LookupAddress]);
		} else {
			callback(null, address, family);
		}
	};
}

/** 127.0.0.1 counts as a public address; everything else as `isLocalAddress` says. */
const loopbackIsPublic = (address: string) => address !== '127.0.0.1' && isLocalAddress(address);

test('a 206 range is the bytes asked, streamed in more than one chunk', async (t) => {
	const server = await serverFor(t);
	const client = clientFor(t);
	const chunks = await lastValueFrom(
		client.fetch({url: server.url('/file.bin'), start: 1000, end: 300_000}).pipe(toArray()),
	);
	t.true(Buffer.concat(chunks).equals(file.subarray(1000, 300_001)));
	t.true(chunks.length > 1);
	t.deepEqual(
		server.requests.map(({range, status}) => ({range, status})),
		[{range: 'bytes=1000-300000', status: 206}],
	);
});

test('requests one after the other reuse one keep-alive connection, even asked at once on completion', async (t) => {
	const server = await serverFor(t);
	const client = clientFor(t);
	const url = server.url('/file.bin');
	t.true((await fetchAll(client, {url, start: 0, end: 9999})).equals(file.subarray(0, 10_000)));
	t.true((await fetchAll(client, {url, start: 10_000, end: 19_999})).equals(file.subarray(10_000, 20_000)));
	// concatMap subscribes to the next fetch inside the previous one's completion.
	const ranges = [
		{url, start: 20_000, end: 29_999},
		{url, start: 30_000, end: 39_999},
	];
	const rest = await lastValueFrom(
		from(ranges).pipe(
			concatMap((range) => client.fetch(range)),
			toArray(),
		),
	);
	t.true(Buffer.concat(rest).equals(file.subarray(20_000, 40_000)));
	t.is(server.connections(), 1);
	t.deepEqual(
		server.requests.map(({connection, reused}) => ({connection, reused})),
		[
			{connection: 1, reused: false},
			{connection: 1, reused: true},
			{connection: 1, reused: true},
			{connection: 1, reused: true},
		],
	);
});

test('requests at once share at most maxSocketsPerHost connections', async (t) => {
	const server = await serverFor(t);
	const client = clientFor(t, {maxSocketsPerHost: 1});
	const url = server.url('/file.bin');
	const parts = await Promise.all(
		[0, 1, 2].map((index) => fetchAll(client, {url, start: index * 100_000, end: index * 100_000 + 99_999})),
	);
	t.true(Buffer.concat(parts).equals(file.subarray(0, 300_000)));
	t.is(server.connections(), 1);
});

/** A 50 MB file on disk whose first MiB is `file` (the rest a hole), served from a folder. */
async function bigFileServer(t: ExecutionContext): Promise<FaultServer> {
	t.timeout(15_000);
	const dir = await tempDir(t, 'torrent-rx-webseed-');
	const handle = await open(path.join(dir, 'big.bin'), 'w');
	await handle.write(file, 0, file.length, 0);
	await handle.truncate(50_000_000);
	await handle.close();
	return faultHttpServer(t, {dir});
}

test('a server that ignores Range is read as a stream up to the range, then the connection is closed', async (t) => {
	const server = await bigFileServer(t);
	server.setFaults('/big.bin', {ignoreRange: true});
	const client = clientFor(t);
	const started = performance.now();
	const bytes = await fetchAll(client, {url: server.url('/big.bin'), start: 4096, end: 5119});
	t.true(bytes.equals(file.subarray(4096, 5120)));
	const [request] = server.requests;
	t.is(request?.status, 200);
	await request?.closed;
	t.true(performance.now() - started < 5000);
	t.false(request?.finished);
	// What the server could write before the client hung up: socket buffers, not the file.
	t.true((request?.bytesSent ?? Number.POSITIVE_INFINITY) < 8_000_000, `${request?.bytesSent} bytes sent`);
});

test('a 200 whose Content-Length ends before the range is too-short', async (t) => {
	const server = await serverFor(t);
	server.setFaults('/small.bin', {ignoreRange: true});
	const client = clientFor(t);
	const error = await failure(
		t,
		client,
		{url: server.url('/small.bin'), start: 500, end: 1500},
		'too-short',
		false,
	);
	t.is(error.status, 200);
});

test('a 200 ending exactly at the range is read to its end and its connection reused', async (t) => {
	const server = await serverFor(t);
	server.setFaults('/small.bin', {ignoreRange: true});
	const client = clientFor(t);
	const url = server.url('/small.bin');
	t.true((await fetchAll(client, {url, start: 900, end: 999})).equals(file.subarray(900, 1000)));
	t.true((await fetchAll(client, {url, start: 0, end: 999})).equals(file.subarray(0, 1000)));
	t.is(server.connections(), 1);
});

test('a 206 with another range than asked, or none, is bad-range', async (t) => {
	const server = await serverFor(t);
	const client = clientFor(t);
	const request = {url: server.url('/file.bin'), start: 100, end: 199};
	for (const contentRange of [
		'bytes 0-99/1048576',
		'bytes */1048576',
		'bytes 100-199/150',
		'items 100-199/1000',
	]) {
		server.setFaults('/file.bin', {contentRange});
		const error = await failure(t, client, request, 'bad-range', false);
		t.is(error.status, 206);
		t.true(error.message.includes(contentRange), error.message);
	}

	server.setFaults('/file.bin', {contentRange: 'bytes 100-199/*'});
	t.true(
		(await fetchAll(client, request)).equals(file.subarray(100, 200)),
		'an unknown complete length is fine',
	);
});

test('a range past the end of the file: a correct server answers a shorter range or 416, both bad-range', async (t) => {
	const server = await serverFor(t);
	const client = clientFor(t);
	await failure(t, client, {url: server.url('/small.bin'), start: 500, end: 1500}, 'bad-range', false);
	const error = await failure(
		t,
		client,
		{url: server.url('/small.bin'), start: 2000, end: 2999},
		'bad-range',
		false,
	);
	t.is(error.status, 416);
});

test('a body shorter than the range is too-short', async (t) => {
	const server = await serverFor(t);
	server.setFaults('/file.bin', {shortBy: 10});
	const client = clientFor(t);
	await failure(t, client, {url: server.url('/file.bin'), start: 0, end: 99_999}, 'too-short', false);
});

test('a body longer than asked is cut at the range, and its connection not reused', async (t) => {
	const server = await serverFor(t);
	server.setFaults('/file.bin', {extraBytes: 100_000});
	const client = clientFor(t);
	const url = server.url('/file.bin');
	t.true((await fetchAll(client, {url, start: 0, end: 999})).equals(file.subarray(0, 1000)));
	await server.requests[0]?.closed;
	server.setFaults('/file.bin', {});
	t.true((await fetchAll(client, {url, start: 1000, end: 1999})).equals(file.subarray(1000, 2000)));
	t.deepEqual(
		server.requests.map(({connection}) => connection),
		[1, 2],
	);
});

test('HTTP statuses map to kinds, each with its retryable flag and status', async (t) => {
	const server = await serverFor(t);
	const client = clientFor(t);
	const request = {url: server.url('/file.bin'), start: 0, end: 99};
	const cases: Array<[number, WebSeedFailureKind, boolean]> = [
		[404, 'not-found', false],
		[410, 'not-found', false],
		[401, 'forbidden', false],
		[403, 'forbidden', false],
		[500, 'server-error', true],
		[503, 'server-error', true],
		[429, 'server-error', true],
		[418, 'http-status', false],
		[204, 'http-status', false],
	];
	for (const [status, kind, retryable] of cases) {
		server.setFaults('/file.bin', {status});
		const error = await failure(t, client, request, kind, retryable);
		t.is(error.status, status);
	}

	await failure(t, client, {...request, url: server.url('/missing.bin')}, 'not-found', false);
});

test('a 503 for the first two requests, then the file: a retry policy gets it on the third', async (t) => {
	const server = await serverFor(t);
	server.setFaults('/file.bin', {status: 503, statusTimes: 2});
	const client = clientFor(t);
	const request = {url: server.url('/file.bin'), start: 0, end: 65_535};
	const bytes = await lastValueFrom(client.fetch(request).pipe(retry({count: 2}), toArray()));
	t.true(Buffer.concat(bytes).equals(file.subarray(0, 65_536)));
	t.deepEqual(
		server.requestsFor('/file.bin').map(({status}) => status),
		[503, 503, 206],
	);
});

test('a connection reset mid-body is reset, retryable', async (t) => {
	const server = await serverFor(t);
	server.setFaults('/file.bin', {resetAfter: 100_000});
	const client = clientFor(t);
	await failure(t, client, {url: server.url('/file.bin'), start: 0, end: 999_999}, 'reset', true);
});

test('a server that stops sending mid-body, or before its headers, is a stall', async (t) => {
	const server = await serverFor(t);
	const client = clientFor(t, {stallTimeoutMs: 300});
	const request = {url: server.url('/file.bin'), start: 0, end: 999_999};
	for (const stallAfter of [200_000, 0]) {
		server.setFaults('/file.bin', {stallAfter});
		const started = performance.now();
		const error = await failure(t, client, request, 'stall', true);
		const elapsed = performance.now() - started;
		t.true(elapsed >= 290 && elapsed < 3000, `${elapsed} ms`);
		t.regex(error.message, /no byte for 300 ms/);
	}
});

test('a slow body that never pauses for stallTimeoutMs is no stall, however long it takes', async (t) => {
	const server = await serverFor(t);
	server.setFaults('/file.bin', {trickle: {bytes: 1000, everyMs: 100}});
	const client = clientFor(t, {stallTimeoutMs: 400});
	const started = performance.now();
	const bytes = await fetchAll(client, {url: server.url('/file.bin'), start: 0, end: 9999});
	t.true(bytes.equals(file.subarray(0, 10_000)));
	t.true(performance.now() - started > 800, 'longer than the stall timeout, in all');
});

test('a redirect chain is followed, the range asked again at each hop', async (t) => {
	const server = await serverFor(t);
	server.setFaults('/file.bin', {redirectHops: 3});
	const client = clientFor(t);
	const bytes = await fetchAll(client, {url: server.url('/file.bin'), start: 5, end: 4004});
	t.true(bytes.equals(file.subarray(5, 4005)));
	t.deepEqual(
		server.requestsFor('/file.bin').map(({url, range, status}) => ({url, range, status})),
		[
			{url: '/file.bin', range: 'bytes=5-4004', status: 302},
			{url: '/.hop/1/file.bin', range: 'bytes=5-4004', status: 302},
			{url: '/.hop/2/file.bin', range: 'bytes=5-4004', status: 302},
			{url: '/.hop/3/file.bin', range: 'bytes=5-4004', status: 206},
		],
	);
});

test('more redirects than maxRedirects is redirect, not retryable', async (t) => {
	const server = await serverFor(t);
	const client = clientFor(t, {maxRedirects: 2});
	const url = server.url('/file.bin');
	server.setFaults('/file.bin', {redirectHops: 2});
	t.true((await fetchAll(client, {url, start: 0, end: 9})).equals(file.subarray(0, 10)));
	server.setFaults('/file.bin', {redirectHops: 3});
	const error = await failure(t, client, {url, start: 0, end: 9}, 'redirect', false);
	t.regex(error.message, /more than 2 redirects/);
	t.is(server.requestsFor('/file.bin').length, 3 + 3);
});

test('a redirect to anything but http: or https: is refused', async (t) => {
	const server = await serverFor(t);
	const client = clientFor(t);
	for (const location of ['ftp://127.0.0.1/file.bin', 'file:///etc/passwd', 'javascript:alert(1)']) {
		server.setFaults('/file.bin', {redirectTo: location});
		await failure(t, client, {url: server.url('/file.bin'), start: 0, end: 9}, 'redirect', false);
	}

	server.setFaults('/file.bin', {redirectTo: 'http://[bad'});
	await failure(t, client, {url: server.url('/file.bin'), start: 0, end: 9}, 'redirect', false);
});

test('a seed on a public address may not redirect to a local one, by literal or by name', async (t) => {
	const server = await serverFor(t);
	const client = clientFor(t, {
		isLocal: loopbackIsPublic,
		lookup: lookupOf({'public.test': '127.0.0.1', 'router.test': '192.168.1.1'}),
	});
	const request = {url: server.url('/file.bin'), start: 0, end: 9};
	for (const target of ['10.0.0.1', '[fe80::1]', 'localhost', 'router.test']) {
		server.setFaults('/file.bin', {redirectTo: `http://${target}:${server.port}/file.bin`});
		const error = await failure(t, client, request, 'refused-address', false);
		t.regex(error.message, /local/);
	}

	// The same seed may go on to a public one, through a name checked when it resolves.
	server.setFaults('/file.bin', {redirectTo: `http://public.test:${server.port}/small.bin`});
	t.true((await fetchAll(client, request)).equals(file.subarray(0, 10)));
	t.deepEqual(
		server.requests.map(({url}) => url),
		['/file.bin', '/file.bin', '/file.bin', '/file.bin', '/file.bin', '/small.bin'],
	);
});

test('a seed on a local address may redirect to another local one', async (t) => {
	const server = await serverFor(t);
	const client = clientFor(t, {lookup: lookupOf({'nas.test': '127.0.0.1'})});
	server.setFaults('/file.bin', {redirectTo: `http://nas.test:${server.port}/small.bin`});
	t.true(
		(await fetchAll(client, {url: server.url('/file.bin'), start: 0, end: 9})).equals(file.subarray(0, 10)),
	);
});

test('a seed on a local address may not have a query string, by literal or by name', async (t) => {
	const server = await serverFor(t);
	const client = clientFor(t, {lookup: lookupOf({'nas.test': '127.0.0.1'})});
	for (const url of [server.url('/file.bin?id=1'), `http://nas.test:${server.port}/file.bin?id=1`]) {
		const error = await failure(t, client, {url, start: 0, end: 9}, 'refused-address', false);
		t.regex(error.message, /local address/);
	}

	server.setFaults('/file.bin', {redirectTo: '/small.bin?id=1'});
	await failure(t, client, {url: server.url('/file.bin'), start: 0, end: 9}, 'refused-address', false);
	t.deepEqual(
		server.requests.map(({url}) => url),
		['/file.bin'],
	);
	// A public seed may: a query string is how many a download site names its files.
	const publicClient = clientFor(t, {isLocal: loopbackIsPublic});
	const bytes = await fetchAll(publicClient, {url: server.url('/small.bin?id=1'), start: 0, end: 9});
	t.true(bytes.equals(file.subarray(0, 10)));
});

test('a seed URL that is not http: or https:, or not a URL, or a range that is none, is refused at once', async (t) => {
	const client = clientFor(t);
	await failure(t, client, {url: 'ftp://127.0.0.1/file.bin', start: 0, end: 9}, 'refused-address', false);
	await failure(t, client, {url: 'not a url', start: 0, end: 9}, 'refused-address', false);
	await failure(t, client, {url: 'http://127.0.0.1/file.bin', start: 10, end: 9}, 'bad-range', false);
	await failure(t, client, {url: 'http://127.0.0.1/file.bin', start: -1, end: 9}, 'bad-range', false);
});

test('unsubscribing aborts the request: the server sees its connection close', async (t) => {
	const server = await bigFileServer(t);
	const client = clientFor(t);
	const [first] = await lastValueFrom(
		client.fetch({url: server.url('/big.bin'), start: 0, end: 49_999_999}).pipe(take(1), toArray()),
	);
	t.true(first?.equals(file.subarray(0, first.length)));
	const [request] = server.requests;
	await request?.closed;
	t.false(request?.finished);

	// Before any reply, too: nothing comes back, the client lets go.
	server.setFaults('/big.bin', {stallAfter: 0});
	const subscription = client
		.fetch({url: server.url('/big.bin'), start: 0, end: 9})
		.subscribe({error: t.fail});
	const waiting = () => server.requests[1];
	while (!waiting()) {
		await new Promise((resolve) => setTimeout(resolve, 10));
	}

	subscription.unsubscribe();
	await waiting()?.closed;
	t.is(server.requests.length, 2);
});

test('a keep-alive connection the server closes as it is reused is asked again once on a new one', async (t) => {
	const server = await serverFor(t);
	const client = clientFor(t);
	const url = server.url('/file.bin');
	t.true((await fetchAll(client, {url, start: 0, end: 9})).equals(file.subarray(0, 10)));
	server.setFaults('/file.bin', {dropReused: 1});
	t.true((await fetchAll(client, {url, start: 10, end: 19})).equals(file.subarray(10, 20)));
	t.deepEqual(
		server.requests.map(({connection, status}) => ({connection, status})),
		[
			{connection: 1, status: 206},
			{connection: 1, status: 0},
			{connection: 2, status: 206},
		],
	);
});

test('a refused connection or a name that does not resolve is connect, retryable', async (t) => {
	const server = await serverFor(t);
	const port = server.port;
	await server.stop();
	const client = clientFor(t, {lookup: lookupOf({})});
	await failure(t, client, {url: `http://127.0.0.1:${port}/file.bin`, start: 0, end: 9}, 'connect', true);
	await failure(t, client, {url: 'http://nowhere.test/file.bin', start: 0, end: 9}, 'connect', true);
});

test('a reply that is not HTTP is http-status, not retryable', async (t) => {
	t.timeout(10_000);
	const sockets = new Set<net.Socket>();
	const server = net.createServer((socket) => {
		sockets.add(socket);
		socket.on('error', () => undefined);
		// Read what the client sends, or its close would never be seen.
		socket.resume();
		socket.end('SSH-2.0-OpenSSH_9.2\r\n\r\n');
	});
	const {port} = await listenOnLoopback(t, server, 'a server that is not HTTP', () => {
		for (const socket of sockets) {
			socket.destroy();
		}
	});
	const client = clientFor(t);
	const error = await failure(
		t,
		client,
		{url: `http://127.0.0.1:${port}/file.bin`, start: 0, end: 9},
		'http-status',
		false,
	);
	t.regex(error.message, /HPE_/);
});

test('a client torn down fetches nothing more', async (t) => {
	const server = await serverFor(t);
	let client: RangeClient | undefined;
	rangeClient(defaults)
		.subscribe((emitted) => {
			client = emitted;
		})
		.unsubscribe();
	if (!client) {
		throw new Error('rangeClient emits its client at once');
	}

	await failure(t, client, {url: server.url('/file.bin'), start: 0, end: 9}, 'connect', false);
	t.is(server.requests.length, 0);
});

/** A self-signed certificate for 127.0.0.1, made by openssl in a temporary folder. */
async function selfSigned(t: ExecutionContext): Promise<{key: Buffer; cert: Buffer}> {
	const dir = await tempDir(t, 'torrent-rx-tls-');
	const [key, cert] = [path.join(dir, 'key.pem'), path.join(dir, 'cert.pem')];
	await promisify(execFile)('openssl', [
		...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'],
		...['-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1'],
		...['-addext', 'subjectAltName=IP:127.0.0.1'],
	]);
	return {key: await readFile(key), cert: await readFile(cert)};
}

test('HTTPS: a range from a server whose certificate is trusted, over one connection', async (t) => {
	const tls = await selfSigned(t);
	const server = await serverFor(t, {tls});
	const client = clientFor(t, {ca: tls.cert});
	const url = server.url('/file.bin');
	t.true((await fetchAll(client, {url, start: 0, end: 199_999})).equals(file.subarray(0, 200_000)));
	t.true(
		(await fetchAll(client, {url, start: 200_000, end: 299_999})).equals(file.subarray(200_000, 300_000)),
	);
	t.deepEqual(
		server.requests.map(({connection}) => connection),
		[1, 1],
	);
	server.setFaults('/file.bin', {resetAfter: 10_000});
	await failure(t, client, {url, start: 0, end: 199_999}, 'reset', true);
});

test('HTTPS: a certificate not trusted is connect, not retryable', async (t) => {
	const tls = await selfSigned(t);
	const server = await serverFor(t, {tls});
	const client = clientFor(t);
	const error = await failure(t, client, {url: server.url('/file.bin'), start: 0, end: 9}, 'connect', false);
	t.regex(error.message, /TLS/);
	t.is(server.requests.length, 0);
});
