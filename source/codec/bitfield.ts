import {PeerProtocolError} from '../errors.js';

/** A set of piece indexes in the wire's layout: the high bit of byte 0 is piece 0 (BEP 3). */
export class Bitfield {
	/** Validates a peer's bitfield message: exactly ⌈pieces/8⌉ bytes with the spare bits clear. */
	static fromWire(bytes: Buffer, pieceCount: number): Bitfield {
		const expected = Math.ceil(pieceCount / 8);
		if (bytes.length !== expected) {
			throw new PeerProtocolError(`bitfield is ${bytes.length} bytes, expected ${expected}`);
		}

		const spareBits = expected * 8 - pieceCount;
		const last = bytes.at(-1) ?? 0;
		if (spareBits > 0 && (last & ((1 << spareBits) - 1)) !== 0) {
			throw new PeerProtocolError('bitfield has spare bits set');
		}

		return new Bitfield(pieceCount, Buffer.from(bytes));
	}

	readonly bytes: Buffer;
	#count: number;

	constructor(
		readonly length: number,
		bytes?: Buffer,
	) {
		this.bytes = bytes ?? Buffer.alloc(Math.ceil(length / 8));
		this.#count = 0;
		for (let index = 0; index < length; index++) {
			if (this.has(index)) {
				this.#count++;
			}
		}
	}

	/** How many pieces are set. */
	get count(): number {
		return this.#count;
	}

	get complete(): boolean {
		return this.#count === this.length;
	}

	has(index: number): boolean {
		const byte = this.bytes[index >> 3] ?? 0;
		return (byte & (0x80 >> (index & 7))) !== 0;
	}

	/** Sets a piece; returns false when it was already set. */
	set(index: number): boolean {
		if (index < 0 || index >= this.length) {
			throw new RangeError(`piece ${index} outside 0..${this.length - 1}`);
		}

		const byteIndex = index >> 3;
		const mask = 0x80 >> (index & 7);
		const byte = this.bytes[byteIndex] ?? 0;
		if ((byte & mask) !== 0) {
			return false;
		}

		this.bytes[byteIndex] = byte | mask;
		this.#count++;
		return true;
	}

	/** Clears a piece (what a source can no longer give: a web seed's missing file); returns false when it was not set. */
	clear(index: number): boolean {
		if (!this.has(index)) {
			return false;
		}

		const byteIndex = index >> 3;
		this.bytes[byteIndex] = (this.bytes[byteIndex] ?? 0) & ~(0x80 >> (index & 7));
		this.#count--;
		return true;
	}

	/** Takes the pieces of `other`, a bitfield of the same torrent. */
	replace(other: Bitfield): void {
		this.bytes.set(other.bytes);
		this.#count = other.count;
	}

	setAll(): void {
		for (let index = 0; index < this.length; index++) {
			this.set(index);
		}
	}
}
