/**
 * A UDP proxy on 127.0.0.1 in front of a UDP tracker that throws away the first datagrams its
 * clients send, standing in for a lossy network. Each client gets its own upstream socket (so
 * the tracker sees one sender per client, as it would without the proxy), and the tracker's
 * replies go back from the proxy's own port, the address the client asked.
 */
import dgram from 'node:dgram';
import type {Teardown} from './swarm-fixture.js';

/** Everything that went through the proxy, in order. */
export type UdpProxyEntry =
	| {direction: 'from-client'; client: string; size: number; dropped: boolean}
	| {direction: 'from-upstream'; client: string; size: number};

export type UdpDropProxy = {
	port: number;
	log: UdpProxyEntry[];
	stop(): Promise<void>;
};

function closeSocket(socket: dgram.Socket): Promise<void> {
	return new Promise((resolve) => {
		try {
			socket.close(() => resolve());
		} catch {
			// Already closed.
			resolve();
		}
	});
}

export async function startUdpDropProxy(
	t: Teardown,
	{
		upstreamPort,
		upstreamHost = '127.0.0.1',
		drop,
	}: {upstreamPort: number; upstreamHost?: string; drop: number},
): Promise<UdpDropProxy> {
	const front = dgram.createSocket('udp4');
	const upstreams = new Map<string, dgram.Socket>();
	const log: UdpProxyEntry[] = [];
	let toDrop = drop;

	const upstreamFor = (client: dgram.RemoteInfo): dgram.Socket => {
		const key = `${client.address}:${client.port}`;
		let upstream = upstreams.get(key);
		if (!upstream) {
			upstream = dgram.createSocket('udp4');
			upstream.on('error', () => undefined);
			upstream.on('message', (packet) => {
				log.push({direction: 'from-upstream', client: key, size: packet.length});
				front.send(packet, client.port, client.address);
			});
			upstream.bind(0, '127.0.0.1');
			upstreams.set(key, upstream);
		}

		return upstream;
	};

	front.on('error', () => undefined);
	front.on('message', (packet, client) => {
		const key = `${client.address}:${client.port}`;
		const dropped = toDrop > 0;
		log.push({direction: 'from-client', client: key, size: packet.length, dropped});
		if (dropped) {
			toDrop--;
			return;
		}

		upstreamFor(client).send(packet, upstreamPort, upstreamHost);
	});

	await new Promise<void>((resolve, reject) => {
		front.once('error', reject);
		front.bind(0, '127.0.0.1', () => {
			front.off('error', reject);
			resolve();
		});
	});

	let stopped: Promise<void> | undefined;
	const stop = () => {
		stopped ??= Promise.all([front, ...upstreams.values()].map(closeSocket)).then(() => undefined);
		return stopped;
	};

	t.teardown(stop);
	return {port: front.address().port, log, stop};
}
