import test from 'ava';
import {Registry} from 'prom-client';
import {serveMetrics} from '../../source/metrics/metrics-server.js';
import {rawStatus} from '../helpers/raw-http.js';

test('DNS rebinding: a scrape with a Host that is not ours, or none, is 421; ours is served', async (t) => {
	t.timeout(10_000);
	const registry = new Registry();
	const url = await new Promise<string>((resolve, reject) => {
		const subscription = serveMetrics(registry, {host: '127.0.0.1', port: 0}).subscribe({
			next: resolve,
			error: reject,
		});
		t.teardown(() => subscription.unsubscribe());
	});
	const port = Number(new URL(url).port);
	for (const host of [
		`evil.example:${port}`,
		'evil.example',
		`localhost.evil.example:${port}`,
		`127.0.0.1:${port + 1}`,
	]) {
		t.is(await rawStatus(port, `GET /metrics HTTP/1.1\r\nHost: ${host}`), 421, host);
	}

	t.is(await rawStatus(port, 'GET /metrics HTTP/1.0'), 421, 'without Host');
	// Prometheus sends the host:port of its target.
	for (const host of [`127.0.0.1:${port}`, `localhost:${port}`]) {
		t.is(await rawStatus(port, `GET /metrics HTTP/1.1\r\nHost: ${host}`), 200, host);
	}
});
