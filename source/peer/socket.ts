import net from 'node:net';
import process from 'node:process';
import {fromEvent, map, Observable} from 'rxjs';
import {PeerProtocolError} from '../errors.js';
import type {ConnectPort, PeerWire} from './transport.js';

/** Bytes we let a socket hold before a sender has to wait for it to drain. */
const maxQueuedBytes = 512 * 1024;

/**
 * Where a dialled socket's reads land, for every socket at once: reads are handled one at a time
 * on this thread, and the framer copies what it keeps, so one buffer serves them all. A fresh
 * 64 KiB buffer per read (Node's default) cost about half a CPU second per GiB in page faults
 * and garbage collection here.
 */
const sharedReadBuffer = Buffer.allocUnsafeSlow(256 * 1024);

/** Reads from `net.connect`'s `onread`, routed to whoever subscribed to the wire. */
type BorrowedReads = {deliver?: (chunk: Buffer) => void};

/**
 * Wraps a connected socket; error, end and close all reach `incoming$`, and teardown is the
 * owner's. With `reads`, the socket reads into the shared buffer and each chunk is valid only
 * while it is emitted; otherwise (accepted sockets) chunks are Node's own.
 */
export function wireFromSocket(socket: net.Socket, reads?: BorrowedReads): PeerWire {
	// Hold data until the session subscribes, so nothing that arrives first is lost.
	socket.pause();
	let corked = false;
	return {
		incoming$: new Observable<Buffer>((subscriber) => {
			const onData = (chunk: Buffer) => subscriber.next(chunk);
			const onEnd = () => subscriber.complete();
			const onError = (error: Error) =>
				subscriber.error(new PeerProtocolError(error.message, {cause: error}));
			if (reads) {
				reads.deliver = onData;
			} else {
				socket.on('data', onData);
			}

			socket.once('end', onEnd);
			socket.once('close', onEnd);
			socket.once('error', onError);
			socket.resume();
			return () => {
				if (reads) {
					reads.deliver = undefined;
				}

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
			const reads: BorrowedReads = {};
			const socket = net.connect({
				host: peer.host,
				port: peer.port,
				noDelay: true,
				onread: {
					buffer: sharedReadBuffer,
					callback: (length) => {
						reads.deliver?.(sharedReadBuffer.subarray(0, length));
						// Keep reading: back-pressure is `pause()`, as for any socket.
						return true;
					},
				},
			});
			const onError = (error: Error) =>
				subscriber.error(new PeerProtocolError(error.message, {cause: error}));
			socket.setTimeout(connectTimeoutMs, () => {
				subscriber.error(new PeerProtocolError(`connection timed out after ${connectTimeoutMs} ms`));
			});
			socket.once('error', onError);
			socket.once('connect', () => {
				socket.setTimeout(0);
				socket.off('error', onError);
				subscriber.next(wireFromSocket(socket, reads));
			});
			return () => {
				socket.destroy();
			};
		});
}
