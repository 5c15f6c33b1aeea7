import {mkdir, writeFile} from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {faultHttpServer, parseRange} from './fault-http-server.js';
import {pseudoRandomBytes, tempDir} from './swarm-fixture.js';

const file = pseudoRandomBytes(1000, 'fault server file');

type Reply = {status: number; headers: http.IncomingHttpHeaders; body: Buffer; error?: NodeJS.ErrnoException};

/** One GET with node's own client; a connection lost mid-body is reported with what came before it. */
function get(url: string, headers: http.OutgoingHttpHeaders = {}, agent?: http.Agent): Promise<Reply> {
	return new Promise((resolve, reject) => {
		let responded = false;
		const outgoing = http.get(url, {headers, ...(agent ? {agent} : {})}, (response) => {
			responded = true;
			const chunks: Buffer[] = [];
			const reply = () => ({
				status: response.statusCode ?? 0,
				headers: response.headers,
				body: Buffer.concat(chunks),
			});
			response.on('data', (chunk: Buffer) => chunks.push(chunk));
			response.once('end', () => resolve(reply()));
			response.once('error', (error) => resolve({...reply(), error}));
		});
		// After the head, a lost connection is the response's error too, reported with its bytes.
		outgoing.on('error', (error) => {
			if (!responded) {
				reject(error);
			}
		});
	});
}

async function serverFor(t: ExecutionContext) {
	t.timeout(10_000);
	return faultHttpServer(t, {files: {'/file.bin': file}});
}

test('Range headers as RFC 9110 §14.1.2 reads them: first-last, first-, -suffix, clamped to the file', (t) => {
	t.deepEqual(parseRange('bytes=0-99', 1000), {start: 0, end: 99});
	t.deepEqual(parseRange('bytes=900-2000', 1000), {start: 900, end: 999});
	t.deepEqual(parseRange('bytes=990-', 1000), {start: 990, end: 999});
	t.deepEqual(parseRange('bytes=-10', 1000), {start: 990, end: 999});
	t.deepEqual(parseRange('bytes=-5000', 1000), {start: 0, end: 999});
	t.is(parseRange('bytes=1000-', 1000), 'unsatisfiable');
	t.is(parseRange('bytes=10-5', 1000), 'unsatisfiable');
	t.is(parseRange('bytes=-0', 1000), 'unsatisfiable');
	t.is(parseRange(undefined, 1000), undefined);
	t.is(parseRange('bytes=0-1,5-6', 1000), undefined);
	t.is(parseRange('items=0-1', 1000), undefined);
});

test('serves whole files, ranges, and 416 past the end, and records each request', async (t) => {
	const server = await serverFor(t);
	const whole = await get(server.url('/file.bin'));
	t.is(whole.status, 200);
	t.is(whole.headers['accept-ranges'], 'bytes');
	t.true(whole.body.equals(file));
	const suffix = await get(server.url('/file.bin'), {range: 'bytes=-10'});
	t.is(suffix.status, 206);
	t.is(suffix.headers['content-range'], 'bytes 990-999/1000');
	t.true(suffix.body.equals(file.subarray(990)));
	const past = await get(server.url('/file.bin'), {range: 'bytes=1000-'});
	t.is(past.status, 416);
	t.is(past.headers['content-range'], 'bytes */1000');
	t.is((await get(server.url('/other.bin'))).status, 404);
	t.deepEqual(
		server.requests.map(({url, path, range, status, finished}) => ({url, path, range, status, finished})),
		[
			{url: '/file.bin', path: '/file.bin', range: undefined, status: 200, finished: true},
			{url: '/file.bin', path: '/file.bin', range: 'bytes=-10', status: 206, finished: true},
			{url: '/file.bin', path: '/file.bin', range: 'bytes=1000-', status: 416, finished: true},
			{url: '/other.bin', path: '/other.bin', range: undefined, status: 404, finished: true},
		],
	);
});

test('serves a folder, and nothing outside it', async (t) => {
	const dir = await tempDir(t, 'torrent-rx-fault-');
	await mkdir(path.join(dir, 'served', 'sub'), {recursive: true});
	await writeFile(path.join(dir, 'served', 'sub', 'a.bin'), file);
	await writeFile(path.join(dir, 'secret.txt'), 'secret');
	const server = await faultHttpServer(t, {dir: path.join(dir, 'served')});
	const range = await get(server.url('/sub/a.bin'), {range: 'bytes=10-19'});
	t.is(range.status, 206);
	t.true(range.body.equals(file.subarray(10, 20)));
	t.is((await get(server.url('/sub/..%2f..%2fsecret.txt'))).status, 404);
	t.is((await get(server.url('/sub'))).status, 404);
});

test('corrupt flips exactly the bytes it names, in whatever range they are sent', async (t) => {
	const server = await serverFor(t);
	server.setFaults('/file.bin', {corrupt: {start: 100, end: 149}});
	const reply = await get(server.url('/file.bin'), {range: 'bytes=120-219'});
	const expected = Buffer.from(file.subarray(120, 220));
	for (let index = 0; index < 30; index++) {
		expected.writeUInt8(expected.readUInt8(index) ^ 0xff, index);
	}

	t.true(reply.body.equals(expected));
	t.true((await get(server.url('/file.bin'))).body.subarray(0, 100).equals(file.subarray(0, 100)));
	server.setFaults('/file.bin', {});
	t.true((await get(server.url('/file.bin'))).body.equals(file), 'the file itself is untouched');
});

test('connections are numbered, and a request on a kept-alive one is marked reused', async (t) => {
	const server = await serverFor(t);
	const agent = new http.Agent({keepAlive: true, maxSockets: 1});
	t.teardown(() => agent.destroy());
	await get(server.url('/file.bin'), {}, agent);
	await get(server.url('/file.bin'), {}, agent);
	await get(server.url('/file.bin'));
	t.deepEqual(
		server.requests.map(({connection, reused}) => ({connection, reused})),
		[
			{connection: 1, reused: false},
			{connection: 1, reused: true},
			{connection: 2, reused: false},
		],
	);
	t.is(server.connections(), 2);
});

test('a reset after N bytes sends those and resets; a stall holds the connection until stop', async (t) => {
	const server = await serverFor(t);
	server.setFaults('/file.bin', {resetAfter: 300});
	const reset = await get(server.url('/file.bin'));
	t.is(reset.error?.code, 'ECONNRESET');
	t.true(reset.body.equals(file.subarray(0, 300)));
	server.setFaults('/file.bin', {stallAfter: 200});
	const stalled = get(server.url('/file.bin'));
	await new Promise((resolve) => setTimeout(resolve, 200));
	t.false(server.requests[1]?.finished);
	t.is(server.requests[1]?.bytesSent, 200);
	await server.stop();
	const reply = await stalled;
	t.true(reply.body.equals(file.subarray(0, 200)));
	await server.requests[1]?.closed;
});
