import http from 'node:http';
import type {Registry} from 'prom-client';
import {Observable} from 'rxjs';
import {TorrentRxError} from '../errors.js';
import {hostAllowed} from '../ui/host-header.js';

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
		const boundPort = () => {
			const address = server.address();
			return typeof address === 'object' && address ? address.port : port;
		};

		const server = http.createServer((request, response) => {
			// DNS rebinding: a web page on another name must not read the metrics. Prometheus
			// sends the host:port it scrapes.
			if (!hostAllowed(request.headers.host, {host, port: boundPort()})) {
				response.writeHead(421).end();
				return;
			}

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
			subscriber.next(`http://${host.includes(':') ? `[${host}]` : host}:${boundPort()}/metrics`);
		});
		return () => {
			server.closeAllConnections();
			server.close();
		};
	});
}
