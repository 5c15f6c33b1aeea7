import net from 'node:net';
import {Observable, Subject} from 'rxjs';
import type {PeerAddress} from '../codec/compact-peers.js';
import {PeerProtocolError} from '../errors.js';
import {wireFromSocket} from './socket.js';
import type {PeerWire} from './transport.js';

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

export type ListenOptions = {
	port: number;
	host: string;
	/**
	 * An accepted connection that no session has taken this long after its accept is closed; a
	 * session that takes it runs its own handshake timeout.
	 */
	handshakeTimeoutMs?: number;
	/** Accepted connections waiting for a session at once; past this a new one is closed at once. */
	maxUnclaimed?: number;
	/** Incoming connections one address may hold at once, taken by a session or not. */
	maxPerAddress?: number;
	/**
	 * Hold loopback callers to `maxPerAddress` too. By default they are not: every peer of a local
	 * swarm (the demo, the tests) shares 127.0.0.1, and the other bounds still apply to them.
	 */
	capLoopback?: boolean;
};

/** libtorrent's handshake_timeout, and our sessions' own. */
const defaultHandshakeTimeoutMs = 10_000;
/** Twice the default --max-peers: sessions take connections as they come, so only a flood waits. */
const defaultMaxUnclaimed = 100;
/** libtorrent and Transmission allow one connection per address; a few leave room for a NAT. */
const defaultMaxPerAddress = 4;

function isLoopback(host: string): boolean {
	return host.startsWith('127.') || host === '::1' || host.startsWith('::ffff:127.');
}

/**
 * Listens for peers on `port`, or on a free port when that one is taken. Emits the listener
 * once listening and closes it (and every connection not yet handed over) on teardown. What
 * strangers can make it hold is bounded: a connection accepted while nobody takes connections
 * (the files are still being checked) is closed at once, one that no session takes within the
 * handshake timeout is closed then, and past `maxUnclaimed` waiting or `maxPerAddress` from one
 * address a new one is closed at once.
 */
export function listenForPeers(options: ListenOptions): Observable<PeerListener> {
	const {port, host} = options;
	const handshakeTimeoutMs = options.handshakeTimeoutMs ?? defaultHandshakeTimeoutMs;
	const maxUnclaimed = options.maxUnclaimed ?? defaultMaxUnclaimed;
	const maxPerAddress = options.maxPerAddress ?? defaultMaxPerAddress;
	return new Observable<PeerListener>((subscriber) => {
		const connections$ = new Subject<IncomingPeer>();
		// Accepted but not yet taken by a session: ours to close when the listener goes.
		const unclaimed = new Set<net.Socket>();
		/** Open incoming connections by remote address; an address leaves with its last one. */
		const perAddress = new Map<string, number>();
		const server = net.createServer({noDelay: true, pauseOnConnect: true}, (socket) => {
			const address = {host: socket.remoteAddress ?? '?', port: socket.remotePort ?? 0};
			const capped = options.capLoopback === true || !isLoopback(address.host);
			const held = perAddress.get(address.host) ?? 0;
			if (!connections$.observed || unclaimed.size >= maxUnclaimed || (capped && held >= maxPerAddress)) {
				socket.destroy();
				return;
			}

			perAddress.set(address.host, held + 1);
			unclaimed.add(socket);
			const deadline = setTimeout(() => {
				if (unclaimed.delete(socket)) {
					socket.destroy();
				}
			}, handshakeTimeoutMs);
			socket.once('close', () => {
				clearTimeout(deadline);
				unclaimed.delete(socket);
				const left = (perAddress.get(address.host) ?? 1) - 1;
				if (left > 0) {
					perAddress.set(address.host, left);
				} else {
					perAddress.delete(address.host);
				}
			});
			connections$.next({
				address,
				wire$: new Observable<PeerWire>((wireSubscriber) => {
					if (!unclaimed.delete(socket)) {
						wireSubscriber.error(
							new PeerProtocolError(`closed: no session took it within ${handshakeTimeoutMs / 1000} s`),
						);
						return;
					}

					clearTimeout(deadline);
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
