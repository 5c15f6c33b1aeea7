import {asyncScheduler, Observable, type SchedulerLike, type Subscriber} from 'rxjs';
import {PeerProtocolError} from '../errors.js';
import type {MseOutcome, MseStep} from './mse-handshake.js';
import type {PeerWire} from './transport.js';

/** A wire after the MSE/PE handshake: how it is protected, and for which torrent when that is known. */
export type ProtectedWire = PeerWire & {protection: MseOutcome['protection']; infoHash?: Buffer};

/** Either side of the handshake (`MseInitiator`, `MseReceiver`), or what tells an incoming one apart. */
export type StreamHandshake = {start?(): Buffer; receive(chunk: Uint8Array): MseStep};

export type EncryptedStreamOptions = {
	/** The whole handshake must be done within this (a peer that trickles it is dropped). */
	timeoutMs: number;
	scheduler?: SchedulerLike;
};

/**
 * Bytes that came after the handshake but before the wire's reader subscribed: the reader
 * subscribes at once, so this is a safety bound, not a buffer to fill.
 */
const maxQueuedBytes = 1024 * 1024;

/**
 * MSE/PE over `wire`, on the transport seam: runs `handshake` (the initiator's first bytes, if
 * it is one, are sent at once), then emits the wire that carries the rest. With RC4, what comes
 * in is decrypted in place (the chunk is the socket reader's, read once) and what goes out is
 * encrypted into a copy (the caller's buffers, such as cached piece blocks, stay as they are);
 * with plaintext chosen the rest passes as it is. The connection is a resource: unsubscribing
 * lets go of `wire`'s bytes, and a peer that closes or fails mid-handshake errors this.
 */
export function encryptedStream(
	wire: PeerWire,
	handshake: StreamHandshake,
	{timeoutMs, scheduler = asyncScheduler}: EncryptedStreamOptions,
): Observable<ProtectedWire> {
	return new Observable<ProtectedWire>((subscriber) => {
		const after = new AfterHandshake();
		let done: MseOutcome | undefined;
		const timeout = scheduler.schedule(() => {
			subscriber.error(new PeerProtocolError(`MSE handshake not done within ${timeoutMs / 1000} s`));
		}, timeoutMs);
		const bytes = wire.incoming$.subscribe({
			next(chunk) {
				if (done) {
					after.deliver(chunk, done);
					return;
				}

				try {
					const step = handshake.receive(chunk);
					for (const message of step.send) {
						wire.send(message);
					}

					if (step.done) {
						done = step.done;
						timeout.unsubscribe();
						after.deliver(step.done.payload, undefined);
						subscriber.next(protectedWire(wire, step.done, after));
					}
				} catch (error) {
					subscriber.error(error);
				}
			},
			error(error: unknown) {
				if (done) {
					after.fail(error);
				} else {
					subscriber.error(error);
				}
			},
			complete() {
				if (done) {
					after.end();
				} else {
					subscriber.error(new PeerProtocolError('the peer closed during the MSE handshake'));
				}
			},
		});
		if (handshake.start) {
			wire.send(handshake.start());
		}

		return () => {
			timeout.unsubscribe();
			bytes.unsubscribe();
		};
	});
}

function protectedWire(wire: PeerWire, outcome: MseOutcome, after: AfterHandshake): ProtectedWire {
	const encrypt = outcome.ciphers?.encrypt;
	return {
		protection: outcome.protection,
		...(outcome.infoHash ? {infoHash: outcome.infoHash} : {}),
		incoming$: after.incoming$,
		send: encrypt
			? (bytes) => {
					const copy = Buffer.from(bytes);
					encrypt.apply(copy);
					return wire.send(copy);
				}
			: (bytes) => wire.send(bytes),
		drained$: wire.drained$,
	};
}

/** The bytes after the handshake, for one reader: queued until it subscribes, then passed on. */
class AfterHandshake {
	readonly incoming$: Observable<Buffer>;
	#reader: Subscriber<Buffer> | undefined;
	#queue: Buffer[] = [];
	#queuedBytes = 0;
	#ending: (() => void) | undefined;
	#subscribed = false;

	constructor() {
		this.incoming$ = new Observable<Buffer>((reader) => {
			if (this.#subscribed) {
				reader.error(new Error('the wire’s bytes are read once'));
				return undefined;
			}

			this.#subscribed = true;
			this.#reader = reader;
			for (const chunk of this.#queue) {
				reader.next(chunk);
			}

			this.#queue = [];
			this.#ending?.();
			return () => {
				this.#reader = undefined;
			};
		});
	}

	/** `chunk` as read; decrypted in place first when `outcome` says RC4. */
	deliver(chunk: Buffer, outcome: MseOutcome | undefined): void {
		outcome?.ciphers?.decrypt.apply(chunk);
		if (chunk.length === 0) {
			return;
		}

		if (this.#reader) {
			this.#reader.next(chunk);
			return;
		}

		if (this.#subscribed) {
			return;
		}

		// Kept past the socket's read: its buffer is reused.
		this.#queue.push(Buffer.from(chunk));
		this.#queuedBytes += chunk.length;
		if (this.#queuedBytes > maxQueuedBytes) {
			this.fail(new PeerProtocolError('more than 1 MiB before the wire was read'));
		}
	}

	end(): void {
		this.#finish(() => this.#reader?.complete());
	}

	fail(error: unknown): void {
		this.#finish(() => this.#reader?.error(error));
	}

	#finish(notify: () => void): void {
		if (this.#reader) {
			notify();
		} else {
			this.#ending = notify;
		}
	}
}
