import net from 'node:net';
import process from 'node:process';
import {Observable} from 'rxjs';
import type {PeerAddress} from '../codec/compact-peers.js';
import {PeerProtocolError} from '../errors.js';

/**
 * Opens a TCP connection to a peer as an Observable of incoming chunks. Whatever `outgoing$`
 * emits is written once the connection is up. Error, timeout, end and close all lead to one
 * clean-up: unsubscribing from `outgoing$` and destroying the socket.
 */
export type ConnectPort = (peer: PeerAddress, outgoing$: Observable<Buffer>) => Observable<Buffer>;

export function connectTcp({connectTimeoutMs}: {connectTimeoutMs: number}): ConnectPort {
	return (peer, outgoing$) =>
		new Observable<Buffer>((subscriber) => {
			const socket = net.connect({host: peer.host, port: peer.port, noDelay: true});
			socket.setTimeout(connectTimeoutMs, () => {
				subscriber.error(new PeerProtocolError(`connection timed out after ${connectTimeoutMs} ms`));
			});
			let writes: {unsubscribe(): void} | undefined;
			socket.once('connect', () => {
				socket.setTimeout(0);
				let corked = false;
				writes = outgoing$.subscribe({
					next(bytes) {
						// Requests come one per block received, many per incoming chunk: cork so that
						// one chunk's worth leaves in one syscall rather than one each.
						if (!corked) {
							corked = true;
							socket.cork();
							process.nextTick(() => {
								corked = false;
								socket.uncork();
							});
						}

						socket.write(bytes);
					},
					error: (error: unknown) => subscriber.error(error),
				});
			});
			socket.on('data', (chunk: Buffer) => subscriber.next(chunk));
			socket.once('end', () => subscriber.complete());
			socket.once('error', (error) => subscriber.error(new PeerProtocolError(error.message, {cause: error})));
			socket.once('close', () => subscriber.complete());
			return () => {
				writes?.unsubscribe();
				socket.destroy();
			};
		});
}
