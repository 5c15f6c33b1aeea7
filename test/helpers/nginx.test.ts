import {once} from 'node:events';
import {writeFile} from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import {startNginx} from './nginx.js';
import {pseudoRandomBytes, tempDir} from './swarm-fixture.js';

type Response = {status: number; headers: Map<string, string>; body: Buffer};

/**
 * One kept-alive HTTP/1.1 connection, written by hand so the test sees exactly what goes over
 * it: requests are sent one after the other, each answer read by its Content-Length.
 */
async function connection(port: number) {
	const socket = net.connect({host: '127.0.0.1', port});
	await once(socket, 'connect');
	let received = Buffer.alloc(0);
	socket.on('data', (chunk: Buffer) => {
		received = Buffer.concat([received, chunk]);
	});
	const closed = once(socket, 'close');

	/** The first whole response in `received`, taken out of it; undefined until it has arrived. */
	const takeResponse = (): Response | undefined => {
		const end = received.indexOf('\r\n\r\n');
		if (end < 0) {
			return undefined;
		}

		const [statusLine = '', ...lines] = received.subarray(0, end).toString('latin1').split('\r\n');
		const headers = new Map(
			lines.map((line) => [
				line.slice(0, line.indexOf(':')).toLowerCase(),
				line.slice(line.indexOf(':') + 1).trim(),
			]),
		);
		const length = Number(headers.get('content-length') ?? 0);
		if (received.length < end + 4 + length) {
			return undefined;
		}

		const body = Buffer.from(received.subarray(end + 4, end + 4 + length));
		received = received.subarray(end + 4 + length);
		return {status: Number(statusLine.split(' ')[1]), headers, body};
	};

	return {
		async get(target: string, headers: Record<string, string> = {}): Promise<Response> {
			const lines = [
				`GET ${target} HTTP/1.1`,
				'Host: 127.0.0.1',
				...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
			];
			socket.write(`${lines.join('\r\n')}\r\n\r\n`);
			const deadline = Date.now() + 5000;
			for (;;) {
				const response = takeResponse();
				if (response) {
					return response;
				}

				if (socket.destroyed || Date.now() > deadline) {
					throw new Error(`no whole response to GET ${target}`);
				}

				await new Promise((resolve) => setTimeout(resolve, 5));
			}
		},
		get closed() {
			return socket.destroyed;
		},
		async close() {
			socket.end();
			await closed;
		},
	};
}

test('nginx serves a byte range as 206, two requests on one kept-alive connection, and logs each Range', async (t) => {
	t.timeout(30_000);
	const root = await tempDir(t);
	const payload = pseudoRandomBytes(1000, 'nginx payload');
	await writeFile(path.join(root, 'file.bin'), payload);
	const nginx = await startNginx(t, {root});
	t.is(nginx.url, `http://127.0.0.1:${nginx.port}/`);

	const http = await connection(nginx.port);
	const first = await http.get('/file.bin', {Range: 'bytes=10-19'});
	t.is(first.status, 206);
	t.is(first.headers.get('content-range'), 'bytes 10-19/1000');
	t.true(first.body.equals(payload.subarray(10, 20)), 'exactly bytes 10 to 19');
	t.is(first.headers.get('content-type'), 'application/octet-stream');

	const second = await http.get('/file.bin', {Range: 'bytes=990-'});
	t.false(http.closed, 'the connection was kept alive');
	t.is(second.status, 206);
	t.is(second.headers.get('content-range'), 'bytes 990-999/1000');
	t.true(second.body.equals(payload.subarray(990)));

	const whole = await http.get('/file.bin');
	t.is(whole.status, 200);
	t.true(whole.body.equals(payload));
	await http.close();

	const log = await nginx.accessLog(3);
	t.is(log.length, 3, log.join('\n'));
	const [one, two, three] = log.map((line) => /^(\d+) (\d+) "(.*)" range="(.*)" (\d{3}) (\d+)$/.exec(line));
	t.deepEqual(one?.slice(2), ['1', 'GET /file.bin HTTP/1.1', 'bytes=10-19', '206', '10']);
	t.deepEqual(two?.slice(2), ['2', 'GET /file.bin HTTP/1.1', 'bytes=990-', '206', '10']);
	t.deepEqual(three?.slice(2), ['3', 'GET /file.bin HTTP/1.1', '-', '200', '1000']);
	t.is(new Set([one?.[1], two?.[1], three?.[1]]).size, 1, 'all three on one connection');
});

test('nginx: every file is application/octet-stream, a missing one 404, a range past the end 416', async (t) => {
	t.timeout(30_000);
	const root = await tempDir(t);
	await writeFile(path.join(root, 'page.html'), '<p>hello</p>');
	const nginx = await startNginx(t, {root});
	const http = await connection(nginx.port);
	const page = await http.get('/page.html');
	t.is(page.status, 200);
	t.is(page.headers.get('content-type'), 'application/octet-stream');
	t.is((await http.get('/missing.bin')).status, 404);
	t.is((await http.get('/page.html', {Range: 'bytes=100-200'})).status, 416);
	await http.close();
});

test('nginx stops on stop(), and a given port is the one it listens on', async (t) => {
	t.timeout(30_000);
	const root = await tempDir(t);
	await writeFile(path.join(root, 'a'), 'a');
	const first = await startNginx(t, {root});
	await first.stop();
	const refused = await new Promise<boolean>((resolve) => {
		const socket = net.connect({host: '127.0.0.1', port: first.port});
		socket.once('connect', () => {
			socket.destroy();
			resolve(false);
		});
		socket.once('error', () => resolve(true));
	});
	t.true(refused, 'nothing listens once stopped');
	const again = await startNginx(t, {root, port: first.port});
	t.is(again.port, first.port);
	const http = await connection(again.port);
	t.is((await http.get('/a')).body.toString(), 'a');
	await http.close();
});
