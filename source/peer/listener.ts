import net from 'node:net';
import {Observable, Subject} from 'rxjs';
import type {PeerAddress} from '../codec/compact-peers.js';
import {type PeerWire, wireFromSocket} from './socket.js';

/** An incoming connection: who it is, and the wire as a resource that closes on teardown. */
export type IncomingPeer = {
	address: PeerAddress;
	wire$: Observable<PeerWire>;
	/** Closes a connection we will not take (too many peers, a banned address). */
	refuse(): void;
};

export type PeerListener = {
	/** The port actually listened on, for the announces. */
	port: number;
	connections$: Observable<IncomingPeer>;
};

function listenOn(server: net.Server, port: number, host: string): Promise<void> {
	return new Promise((resolve, reject) => {
		const onError = (error: Error) => {
			server.off('listening', onListening);
			reject(error);
		};

		const onListening = () => {
			server.off('error', onError);
			resolve();
		};

		server.once('error', onError);
		server.once('listening', onListening);
		server.listen(port, host);
	});
}

/**
 * Listens for peers on `port`, or on a free port when that one is taken. Emits the listener
 * once listening and closes it (and every connection not yet handed over) on teardown.
 */
export function listenForPeers({port, host}: {port: number; host: string}): Observable<PeerListener> {
	return new Observable<PeerListener>((subscriber) => {
		const connections$ = new Subject<IncomingPeer>();
		// Accepted but not yet taken by a session: ours to close when the listener goes.
		const unclaimed = new Set<net.Socket>();
		const server = net.createServer({noDelay: true, pauseOnConnect: true}, (socket) => {
			const address = {host: socket.remoteAddress ?? '?', port: socket.remotePort ?? 0};
			unclaimed.add(socket);
			socket.once('close', () => unclaimed.delete(socket));
			connections$.next({
				address,
				wire$: new Observable<PeerWire>((wireSubscriber) => {
					unclaimed.delete(socket);
					wireSubscriber.next(wireFromSocket(socket));
					return () => {
						socket.destroy();
					};
				}),
				refuse: () => socket.destroy(),
			});
		});
		listenOn(server, port, host)
			.catch(async (error: NodeJS.ErrnoException) => {
				if (error.code !== 'EADDRINUSE') {
					throw error;
				}

				await listenOn(server, 0, host);
			})
			.then(
				() => {
					const address = server.address();
					subscriber.next({port: typeof address === 'object' && address ? address.port : port, connections$});
				},
				(error: unknown) => subscriber.error(error),
			);
		return () => {
			connections$.complete();
			server.close();
			for (const socket of unclaimed) {
				socket.destroy();
			}
		};
	});
}
