import {
	type MonoTypeOperatorFunction,
	Observable,
	type OperatorFunction,
	type SchedulerLike,
	throwError,
	timeout,
} from 'rxjs';
import {decodeHandshake, type Handshake, handshakeLength} from '../codec/handshake.js';
import {decodeMessage, type PeerMessage} from '../codec/messages.js';
import {PeerProtocolError} from '../errors.js';

export type WireFrame = {type: 'handshake'; handshake: Handshake} | PeerMessage;

/** Bytes of a frame split across chunks, copied aside until the rest arrives. */
class PartialFrame {
	#bytes = Buffer.allocUnsafeSlow(0);
	#held = 0;
	/** The whole frame's size once known (its length prefix is in); 0 before. */
	#size = 0;

	get held(): number {
		return this.#held;
	}

	get size(): number {
		return this.#size;
	}

	/** Starts a frame of `size` bytes, or of unknown size while only its first bytes are in. */
	begin(size: number): void {
		this.#held = 0;
		this.#size = size;
	}

	/** Copies up to `wanted` bytes from `chunk` at `offset`; returns how many it took. */
	fill(chunk: Buffer, offset: number, wanted: number): number {
		const taken = Math.min(wanted, chunk.length - offset);
		this.#reserve(this.#held + taken);
		chunk.copy(this.#bytes, this.#held, offset, offset + taken);
		this.#held += taken;
		return taken;
	}

	/** The length prefix is in: the frame's size becomes known. */
	sized(size: number): void {
		this.#size = size;
	}

	lengthPrefix(): number {
		return this.#bytes.readUInt32BE(0);
	}

	/** The finished frame, as a view of a buffer that the next split frame reuses. */
	finish(): Buffer {
		const frame = this.#bytes.subarray(0, this.#size);
		this.#held = 0;
		this.#size = 0;
		return frame;
	}

	/** Room grows with the bytes that came, not with what a length prefix claims. */
	#reserve(needed: number): void {
		if (this.#bytes.length < needed) {
			const doubled = Math.max(needed, 2 * this.#bytes.length);
			const bigger = Buffer.allocUnsafeSlow(this.#size > 0 ? Math.min(doubled, this.#size) : doubled);
			this.#bytes.copy(bigger, 0, 0, this.#held);
			this.#bytes = bigger;
		}
	}
}

const pieceId = 7;

/**
 * A message from bytes that may be reused once it is emitted: a `piece` keeps its block as a
 * view (the one message worth not copying, and its consumer copies the block into the piece at
 * once); every other message is decoded from a copy, so it may be kept.
 */
function decodeBorrowed(body: Buffer): PeerMessage {
	return decodeMessage(body.length > 0 && body[0] === pieceId ? body : Buffer.from(body));
}

/**
 * Socket chunks → wire frames: the 68-byte handshake first (BEP 3), then length-prefixed
 * messages, however TCP split or merged them. A length prefix above `maxMessageLength` is a
 * protocol error before a single byte of it is buffered, so a hostile prefix costs nothing.
 *
 * Chunks are borrowed: the socket reuses its read buffer once a chunk's emission returns, so
 * the bytes of an unfinished frame are copied aside. A `piece` frame's block is valid only while
 * the frame is being emitted: whoever keeps it copies it.
 */
export function frameWire(maxMessageLength: number): OperatorFunction<Buffer, WireFrame> {
	return (source) =>
		new Observable<WireFrame>((subscriber) => {
			const partial = new PartialFrame();
			let handshakeSeen = false;
			const emit = (frame: Buffer) => {
				if (handshakeSeen) {
					subscriber.next(decodeBorrowed(frame.subarray(4)));
				} else {
					handshakeSeen = true;
					subscriber.next({type: 'handshake', handshake: decodeHandshake(frame)});
				}
			};

			const sizeFrom = (lengthPrefix: number) => {
				if (lengthPrefix > maxMessageLength) {
					throw new PeerProtocolError(`message length ${lengthPrefix} exceeds ${maxMessageLength}`);
				}

				return 4 + lengthPrefix;
			};

			/** Continues a split frame with the chunk's first bytes; returns how many it used. */
			const resume = (chunk: Buffer): number => {
				let used = 0;
				if (partial.size === 0) {
					used += partial.fill(chunk, 0, 4 - partial.held);
					if (partial.held < 4) {
						return used;
					}

					partial.sized(sizeFrom(partial.lengthPrefix()));
				}

				used += partial.fill(chunk, used, partial.size - partial.held);
				if (partial.held === partial.size) {
					emit(partial.finish());
				}

				return used;
			};

			return source.subscribe({
				next(chunk) {
					try {
						let offset = partial.held > 0 ? resume(chunk) : 0;
						while (offset < chunk.length && !subscriber.closed) {
							const left = chunk.length - offset;
							if (!handshakeSeen && left < handshakeLength) {
								partial.begin(handshakeLength);
								offset += partial.fill(chunk, offset, left);
							} else if (handshakeSeen && left < 4) {
								partial.begin(0);
								offset += partial.fill(chunk, offset, left);
							} else {
								const size = handshakeSeen ? sizeFrom(chunk.readUInt32BE(offset)) : handshakeLength;
								if (left < size) {
									partial.begin(size);
									offset += partial.fill(chunk, offset, left);
								} else {
									emit(chunk.subarray(offset, offset + size));
									offset += size;
								}
							}
						}
					} catch (error) {
						subscriber.error(error);
					}
				},
				error: (error: unknown) => subscriber.error(error),
				complete: () => subscriber.complete(),
			});
		});
}

/**
 * Ends the wire when no frame (the handshake comes first) arrives within `ms`, saying so: rxjs's
 * own reason is "Timeout has occurred", which tells the user nothing.
 */
export function handshakeWithin<T>(ms: number, scheduler: SchedulerLike): MonoTypeOperatorFunction<T> {
	return timeout({
		first: ms,
		scheduler,
		with: () => throwError(() => new PeerProtocolError(`no handshake within ${ms / 1000} s`)),
	});
}
