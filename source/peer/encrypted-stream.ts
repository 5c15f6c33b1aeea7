import {asyncScheduler, Observable, type SchedulerLike, type Subscriber} from 'rxjs';
import type {Rc4} from '../codec/rc4.js';
import {PeerProtocolError} from '../errors.js';
import {type MseOutcome, type MseStep, maxInitialPayload, NotTakenUp} from './mse-handshake.js';
import type {PeerWire} from './transport.js';

/**
 * A wire that runs MSE/PE: how it is protected, and for which torrent when that is known. Both
 * are settled by the handshake, before the wire's first byte in: a receiver's wire is handed
 * out after it, an initiator's as soon as the keys are exchanged (see `encryptedStream`).
 */
export type ProtectedWire = PeerWire & {infoHash?: Buffer};

/** Either side of the handshake (`MseInitiator`, `MseReceiver`), or what tells an incoming one apart. */
export type StreamHandshake = {
	start?(): Buffer;
	receive(chunk: Uint8Array): MseStep;
	/** The initiator's request with its initial payload, once a step said `ready`. */
	request?(initialPayload: Buffer): MseStep;
};

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
 * it is one, are sent at once) and emits the wire that carries the rest. With RC4, what comes
 * in is decrypted in place (the chunk is the socket reader's, read once) and what goes out is
 * encrypted into a copy (the caller's buffers, such as cached piece blocks, stay as they are);
 * with plaintext chosen the rest passes as it is.
 *
 * A receiver's wire is emitted once the handshake is done. An initiator's is emitted as soon as
 * the keys are exchanged, so that what its reader sends at once (our BitTorrent handshake)
 * rides in the request as IA and the peer's handshake comes back with its answer: a round trip
 * fewer, as Transmission does it. Sends are held until the peer's crypto_select says how they
 * go; a failure from then on reaches the wire's reader.
 *
 * The connection is a resource: unsubscribing lets go of `wire`'s bytes. A peer that closes,
 * resets or stays silent before the keys are exchanged errors this with `NotTakenUp`.
 */
export function encryptedStream(
	wire: PeerWire,
	handshake: StreamHandshake,
	{timeoutMs, scheduler = asyncScheduler}: EncryptedStreamOptions,
): Observable<ProtectedWire> {
	return new Observable<ProtectedWire>((subscriber) => {
		const run = new HandshakeRun(wire, handshake, subscriber);
		const timeout = scheduler.schedule(() => {
			run.timedOut(`MSE handshake not done within ${timeoutMs / 1000} s`);
		}, timeoutMs);
		run.settled = () => timeout.unsubscribe();
		const bytes = wire.incoming$.subscribe(run.observer);
		if (handshake.start) {
			wire.send(handshake.start());
		}

		return () => {
			timeout.unsubscribe();
			bytes.unsubscribe();
		};
	});
}

/** One connection's handshake, from the bytes in to the wire handed out and the rest passed on. */
class HandshakeRun {
	/** Called once the handshake is done (the time-out is over). */
	settled: () => void = () => undefined;
	readonly #wire: PeerWire;
	readonly #handshake: StreamHandshake;
	readonly #subscriber: Subscriber<ProtectedWire>;
	readonly #after = new AfterHandshake();
	readonly #sends: HeldSends;
	readonly #protectedWire: ProtectedWire;
	#done: MseOutcome | undefined;
	#handedOut = false;

	constructor(wire: PeerWire, handshake: StreamHandshake, subscriber: Subscriber<ProtectedWire>) {
		this.#wire = wire;
		this.#handshake = handshake;
		this.#subscriber = subscriber;
		this.#sends = new HeldSends(wire);
		const run = this;
		this.#protectedWire = {
			get protection() {
				return run.#done?.protection;
			},
			get infoHash() {
				return run.#done?.infoHash;
			},
			incoming$: this.#after.incoming$,
			send: (bytes) => this.#sends.send(bytes),
			drained$: wire.drained$,
		};
	}

	/** What reads the socket: the handshake's bytes, then the payload's. */
	readonly observer = {
		next: (chunk: Buffer) => {
			if (this.#done) {
				this.#after.deliver(chunk, this.#done);
				return;
			}

			try {
				this.#apply(this.#handshake.receive(chunk));
			} catch (error) {
				this.#fail(error);
			}
		},
		error: (error: unknown) => {
			if (this.#done || this.#handedOut) {
				this.#fail(error);
			} else {
				this.#fail(new NotTakenUp('the peer hung up on the MSE handshake', {cause: error}));
			}
		},
		complete: () => {
			const message = 'the peer closed during the MSE handshake';
			if (this.#done) {
				this.#after.end();
			} else {
				this.#fail(this.#handedOut ? new PeerProtocolError(message) : new NotTakenUp(message));
			}
		},
	};

	timedOut(message: string): void {
		this.#fail(this.#handedOut ? new PeerProtocolError(message) : new NotTakenUp(message));
	}

	#apply(step: MseStep): void {
		for (const message of step.send) {
			this.#wire.send(message);
		}

		if (step.done) {
			this.#done = step.done;
			this.settled();
			this.#sends.release(step.done);
			this.#after.deliver(step.done.payload, undefined);
			if (!this.#handedOut) {
				this.#handOut();
			}
		} else if (step.ready && this.#handshake.request) {
			this.#handOut();
			if (!this.#subscriber.closed) {
				this.#apply(this.#handshake.request(this.#sends.initialPayload()));
			}
		}
	}

	#handOut(): void {
		this.#handedOut = true;
		this.#subscriber.next(this.#protectedWire);
	}

	/** Before the wire is handed out, the connection fails; after, its reader hears it. */
	#fail(error: unknown): void {
		if (this.#handedOut) {
			this.#after.fail(error);
		} else {
			this.#subscriber.error(error);
		}
	}
}

/**
 * What the wire's reader sends before the handshake says how: held, then let through as the
 * peer chose (encrypted into a copy with RC4, as they are with plaintext). The first of them,
 * as far as they fit, can go as the initiator's IA instead.
 */
class HeldSends {
	readonly #wire: PeerWire;
	#held: Buffer[] | undefined = [];
	#encrypt: Rc4 | undefined;

	constructor(wire: PeerWire) {
		this.#wire = wire;
	}

	send(bytes: Buffer): boolean {
		if (this.#held) {
			this.#held.push(Buffer.from(bytes));
			return true;
		}

		if (this.#encrypt) {
			const copy = Buffer.from(bytes);
			this.#encrypt.apply(copy);
			return this.#wire.send(copy);
		}

		return this.#wire.send(bytes);
	}

	/** The held sends that fit in an initial payload, taken off, whole. */
	initialPayload(): Buffer {
		const taken: Buffer[] = [];
		let length = 0;
		while (this.#held?.[0] && length + this.#held[0].length <= maxInitialPayload) {
			const next = this.#held.shift() as Buffer;
			taken.push(next);
			length += next.length;
		}

		return Buffer.concat(taken);
	}

	/** The handshake is done: what was held goes now, and the rest as `outcome` says. */
	release(outcome: MseOutcome): void {
		this.#encrypt = outcome.ciphers?.encrypt;
		const held = this.#held ?? [];
		this.#held = undefined;
		for (const bytes of held) {
			this.send(bytes);
		}
	}
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
