import {Observable, type OperatorFunction} from 'rxjs';
import {decodeHandshake, type Handshake, handshakeLength} from '../codec/handshake.js';
import {decodeMessage, type PeerMessage} from '../codec/messages.js';
import {PeerProtocolError} from '../errors.js';

export type WireFrame = {type: 'handshake'; handshake: Handshake} | PeerMessage;

/**
 * Bytes that arrived but were not consumed yet, as the socket's own chunks: a frame inside one
 * chunk is handed out as a view (no copy); only a frame split across chunks is copied together.
 */
class ChunkQueue {
	#chunks: Buffer[] = [];
	#length = 0;

	get length(): number {
		return this.#length;
	}

	push(chunk: Buffer): void {
		if (chunk.length > 0) {
			this.#chunks.push(chunk);
			this.#length += chunk.length;
		}
	}

	/** Reads a big-endian uint32 at the front without consuming it; the caller checks `length >= 4`. */
	peekUInt32(): number {
		const first = this.#chunks[0];
		if (first && first.length >= 4) {
			return first.readUInt32BE(0);
		}

		return this.#peek(4).readUInt32BE(0);
	}

	/** Removes and returns the first `count` bytes; the caller checks `length >= count`. */
	take(count: number): Buffer {
		const first = this.#chunks[0];
		if (first && first.length >= count) {
			this.#length -= count;
			if (first.length === count) {
				this.#chunks.shift();
			} else {
				this.#chunks[0] = first.subarray(count);
			}

			return first.subarray(0, count);
		}

		const joined = this.#peek(count);
		this.skip(count);
		return joined;
	}

	skip(count: number): void {
		this.#length -= count;
		let left = count;
		while (left > 0) {
			const first = this.#chunks[0];
			if (!first) {
				return;
			}

			if (first.length <= left) {
				left -= first.length;
				this.#chunks.shift();
			} else {
				this.#chunks[0] = first.subarray(left);
				left = 0;
			}
		}
	}

	#peek(count: number): Buffer {
		const joined = Buffer.allocUnsafe(count);
		let offset = 0;
		for (const chunk of this.#chunks) {
			const copied = chunk.copy(joined, offset, 0, Math.min(chunk.length, count - offset));
			offset += copied;
			if (offset === count) {
				break;
			}
		}

		return joined;
	}
}

/**
 * Socket chunks → wire frames: the 68-byte handshake first (BEP 3), then length-prefixed
 * messages, however TCP split or merged them. A length prefix above `maxMessageLength` is a
 * protocol error before a single byte of it is buffered, so a hostile prefix costs nothing.
 */
export function frameWire(maxMessageLength: number): OperatorFunction<Buffer, WireFrame> {
	return (source) =>
		new Observable<WireFrame>((subscriber) => {
			const queue = new ChunkQueue();
			let handshakeSeen = false;
			return source.subscribe({
				next(chunk) {
					queue.push(chunk);
					try {
						if (!handshakeSeen) {
							if (queue.length < handshakeLength) {
								return;
							}

							handshakeSeen = true;
							subscriber.next({type: 'handshake', handshake: decodeHandshake(queue.take(handshakeLength))});
						}

						while (queue.length >= 4 && !subscriber.closed) {
							const length = queue.peekUInt32();
							if (length > maxMessageLength) {
								throw new PeerProtocolError(`message length ${length} exceeds ${maxMessageLength}`);
							}

							if (queue.length < 4 + length) {
								return;
							}

							queue.skip(4);
							subscriber.next(decodeMessage(queue.take(length)));
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
