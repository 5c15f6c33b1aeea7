import net from 'node:net';
import {listenOnLoopback, type Teardown} from './swarm-fixture.js';

/** A proxy to 127.0.0.1:`upstream` that counts what comes back from it. */
export async function countingProxy(t: Teardown, upstream: number) {
	const counted = {bytes: 0};
	const sockets = new Set<net.Socket>();
	const server = net.createServer((client) => {
		const seeder = net.connect({host: '127.0.0.1', port: upstream});
		for (const socket of [client, seeder]) {
			sockets.add(socket);
			socket.on('error', () => undefined);
			socket.once('close', () => {
				client.destroy();
				seeder.destroy();
			});
		}

		seeder.on('data', (chunk: Buffer) => {
			counted.bytes += chunk.length;
		});
		client.pipe(seeder);
		seeder.pipe(client);
	});
	const {port} = await listenOnLoopback(t, server, 'the counting proxy', () => {
		for (const socket of sockets) {
			socket.destroy();
		}
	});
	return {port, counted};
}
