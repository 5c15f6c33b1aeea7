import net from 'node:net';
import process from 'node:process';
import {fromEvent, map, Observable} from 'rxjs';
import type {PeerAddress} from '../codec/compact-peers.js';
import {PeerProtocolError} from '../errors.js';

/** A connected peer's byte pipe, whichever side dialled. */
export type PeerWire = {
	/** Chunks as they arrive; completes when the peer closes, errors when the socket fails. Subscribe once. */
	incoming$: Observable<Buffer>;
	/** Queues bytes for the peer; false once the socket holds more than it should: wait for `drained$`. */
	send(bytes: Buffer): boolean;
	/** Emits when the socket has flushed what it held after `send` returned false. */
	drained$: Observable<void>;
};

/**
 * Dials a peer. Emits one `PeerWire` once connected and never completes: the connection is a
 * resource, closed when the subscriber unsubscribes.
 */
export type ConnectPort = (peer: PeerAddress) => Observable<PeerWire>;

/** Bytes we let a socket hold before a sender has to wait for it to drain. */
const maxQueuedBytes = 512 * 1024;

/** Wraps a connected socket; error, end and close all reach `incoming$`, and teardown is the owner's. */
export function wireFromSocket(socket: net.Socket): PeerWire {
	// Hold data until the session subscribes, so nothing that arrives first is lost.
	socket.pause();
	let corked = false;
	return {
		incoming$: new Observable<Buffer>((subscriber) => {
			const onData = (chunk: Buffer) => subscriber.next(chunk);
			const onEnd = () => subscriber.complete();
			const onError = (error: Error) =>
				subscriber.error(new PeerProtocolError(error.message, {cause: error}));
			socket.on('data', onData);
			socket.once('end', onEnd);
			socket.once('close', onEnd);
			socket.once('error', onError);
			socket.resume();
			return () => {
				socket.off('data', onData);
				socket.off('end', onEnd);
				socket.off('close', onEnd);
				socket.off('error', onError);
			};
		}),
		send(bytes) {
			// Requests leave one per block received, many per incoming chunk: cork so that a
			// chunk's worth goes out in one syscall rather than one each.
			if (!corked) {
				corked = true;
				socket.cork();
				process.nextTick(() => {
					corked = false;
					socket.uncork();
				});
			}

			socket.write(bytes);
			// Node's own mark is 16 KiB: one block. Keeping a few hundred KiB queued lets the kernel
			// send whole windows; past that the sender waits for `drained$`, so memory stays bounded.
			return socket.writableLength < maxQueuedBytes;
		},
		drained$: fromEvent(socket, 'drain').pipe(map(() => undefined)),
	};
}

/** TCP dialling with a connect timeout; the socket is destroyed on teardown. */
export function connectTcp({connectTimeoutMs}: {connectTimeoutMs: number}): ConnectPort {
	return (peer) =>
		new Observable<PeerWire>((subscriber) => {
			const socket = net.connect({host: peer.host, port: peer.port, noDelay: true});
			const onError = (error: Error) =>
				subscriber.error(new PeerProtocolError(error.message, {cause: error}));
			socket.setTimeout(connectTimeoutMs, () => {
				subscriber.error(new PeerProtocolError(`connection timed out after ${connectTimeoutMs} ms`));
			});
			socket.once('error', onError);
			socket.once('connect', () => {
				socket.setTimeout(0);
				socket.off('error', onError);
				subscriber.next(wireFromSocket(socket));
			});
			return () => {
				socket.destroy();
			};
		});
}
