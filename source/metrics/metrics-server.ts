import http from 'node:http';
import type {Registry} from 'prom-client';
import {Observable} from 'rxjs';
import {TorrentRxError} from '../errors.js';

/**
 * Serves `registry` at `http://HOST:PORT/metrics` for the duration of the subscription. Emits
 * the address once listening; a port that is taken is an error, not a silent move elsewhere,
 * since Prometheus scrapes a fixed address.
 */
export function serveMetrics(
	registry: Registry,
	{host, port}: {host: string; port: number},
): Observable<string> {
	return new Observable<string>((subscriber) => {
		const server = http.createServer((request, response) => {
			if (request.url !== '/metrics') {
				response.writeHead(404).end();
				return;
			}

			registry.metrics().then(
				(text) => {
					response.writeHead(200, {'content-type': registry.contentType});
					response.end(text);
				},
				() => response.writeHead(500).end(),
			);
		});
		server.once('error', (error) =>
			subscriber.error(new TorrentRxError(`cannot serve metrics on ${host}:${port}`, {cause: error})),
		);
		server.listen(port, host, () => {
			const address = server.address();
			subscriber.next(
				`http://${host}:${typeof address === 'object' && address ? address.port : port}/metrics`,
			);
		});
		return () => {
			server.closeAllConnections();
			server.close();
		};
	});
}
