import {once} from 'node:events';
import net from 'node:net';
import {performance} from 'node:perf_hooks';
import test from 'ava';
import {startLatencyProxy} from './latency-proxy.js';
import {pseudoRandomBytes} from './swarm-fixture.js';

/** A server that echoes a first small message, then sends `payload` and closes. */
async function upstream(t: {teardown(fn: () => unknown): void}, payload: Buffer): Promise<number> {
	const server = net.createServer((socket) => {
		socket.once('data', (hello: Buffer) => {
			socket.write(hello);
			socket.once('data', () => socket.end(payload));
		});
		socket.on('error', () => undefined);
	});
	server.listen(0, '127.0.0.1');
	await once(server, 'listening');
	t.teardown(() => server.close());
	return (server.address() as net.AddressInfo).port;
}

// Lower bounds only: a loaded machine can make the link slower, never faster than emulated.
test('the latency proxy delays each direction and caps the rate, and passes every byte in order', async (t) => {
	t.timeout(20_000);
	const payload = pseudoRandomBytes(2_000_000, 'link');
	const proxy = await startLatencyProxy(t, await upstream(t, payload), {
		delayMs: 25,
		bytesPerSecond: 10e6,
		maxHeldBytes: 256 * 1024,
	});
	const client = net.connect({host: '127.0.0.1', port: proxy.port});
	await once(client, 'connect');
	const chunks: Buffer[] = [];
	let pingStarted = performance.now();
	client.write('ping');
	const [echo] = (await once(client, 'data')) as [Buffer];
	const roundTripMs = performance.now() - pingStarted;
	t.is(echo.toString(), 'ping');
	t.true(roundTripMs >= 49, `a round trip of ${roundTripMs.toFixed(1)} ms`);

	pingStarted = performance.now();
	client.write('go');
	client.on('data', (chunk: Buffer) => chunks.push(chunk));
	await once(client, 'end');
	const seconds = (performance.now() - pingStarted) / 1000;
	const received = Buffer.concat(chunks);
	t.is(received.length, payload.length);
	t.true(received.equals(payload));
	// 2 MB at 10 MB/s, plus a round trip.
	t.true(seconds >= 0.2 + 0.05 - 0.005, `2 MB in ${seconds.toFixed(3)} s`);
	client.destroy();
});
