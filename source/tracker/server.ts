import http from 'node:http';
import {isIPv4} from 'node:net';
import {Observable} from 'rxjs';
import {encodeBencode} from '../codec/bencode.js';
import {encodeCompactPeer} from '../codec/compact-peers.js';

/** Decodes a query's raw value: percent escapes are bytes, not UTF-8 (info_hash is binary). */
function decodeQueryBytes(value: string): Buffer {
	const bytes: number[] = [];
	for (let index = 0; index < value.length; index++) {
		const char = value[index] ?? '';
		if (char === '%' && /^[\da-f]{2}$/i.test(value.slice(index + 1, index + 3))) {
			bytes.push(Number.parseInt(value.slice(index + 1, index + 3), 16));
			index += 2;
		} else {
			bytes.push(char === '+' ? 0x20 : char.charCodeAt(0) & 0xff);
		}
	}

	return Buffer.from(bytes);
}

function rawQuery(url: string): Map<string, string> {
	const query = url.includes('?') ? url.slice(url.indexOf('?') + 1) : '';
	return new Map(
		query
			.split('&')
			.filter(Boolean)
			.map((pair) => {
				const equals = pair.indexOf('=');
				return equals < 0 ? [pair, ''] : [pair.slice(0, equals), pair.slice(equals + 1)];
			}),
	);
}

type SwarmPeer = {host: string; port: number; seeding: boolean; seenAt: number};

export type TrackerServer = {url: string};

/**
 * A minimal HTTP tracker (BEP 3, compact replies per BEP 23) for the offline demo and for
 * tests: it answers any info hash, forgets peers that say `stopped` or stay silent for two
 * intervals. Emits once listening; closes on teardown.
 */
export function serveTracker({
	host,
	port,
	intervalSeconds,
}: {
	host: string;
	port: number;
	intervalSeconds: number;
}): Observable<TrackerServer> {
	return new Observable<TrackerServer>((subscriber) => {
		const swarms = new Map<string, Map<string, SwarmPeer>>();
		const reply = (response: http.ServerResponse, body: Record<string, unknown>) => {
			response.writeHead(200, {'content-type': 'text/plain'});
			response.end(encodeBencode(body));
		};

		const server = http.createServer((request, response) => {
			const url = request.url ?? '';
			if (!url.startsWith('/announce')) {
				response.writeHead(404).end();
				return;
			}

			const query = rawQuery(url);
			const infoHash = decodeQueryBytes(query.get('info_hash') ?? '');
			const peerPort = Number(query.get('port'));
			if (infoHash.length !== 20 || !Number.isInteger(peerPort) || peerPort < 1 || peerPort > 65_535) {
				reply(response, {'failure reason': 'bad announce'});
				return;
			}

			const address = (request.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
			const key = `${address}:${peerPort}`;
			const swarm = swarms.get(infoHash.toString('hex')) ?? new Map<string, SwarmPeer>();
			swarms.set(infoHash.toString('hex'), swarm);
			const now = Date.now();
			for (const [peerKey, peer] of swarm) {
				if (now - peer.seenAt > 2 * intervalSeconds * 1000) {
					swarm.delete(peerKey);
				}
			}

			if (query.get('event') === 'stopped') {
				swarm.delete(key);
			} else if (isIPv4(address)) {
				swarm.set(key, {host: address, port: peerPort, seeding: query.get('left') === '0', seenAt: now});
			}

			const others = [...swarm.entries()].filter(([peerKey]) => peerKey !== key).map(([, peer]) => peer);
			reply(response, {
				interval: intervalSeconds,
				'min interval': Math.min(intervalSeconds, 10),
				complete: [...swarm.values()].filter((peer) => peer.seeding).length,
				incomplete: [...swarm.values()].filter((peer) => !peer.seeding).length,
				peers: Buffer.concat(others.map(encodeCompactPeer)),
			});
		});
		server.once('error', (error) => subscriber.error(error));
		server.listen(port, host, () => {
			const address = server.address();
			const actualPort = typeof address === 'object' && address ? address.port : port;
			subscriber.next({url: `http://${host}:${actualPort}/announce`});
		});
		return () => {
			server.closeAllConnections();
			server.close();
		};
	});
}
