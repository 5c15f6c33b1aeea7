import bencode from 'bencode';
import {MetainfoError} from '../errors.js';

/** A decoded bencode value (byte strings stay bytes). */
export type BencodeValue = number | Uint8Array | BencodeValue[] | BencodeDictionary;
export type BencodeDictionary = {[key: string]: BencodeValue};

/** Nesting deeper than any real torrent or tracker reply; it also keeps the recursive decoder off the stack limit. */
const maxDepth = 64;

const colon = 0x3a;
const digit0 = 0x30;
const digit9 = 0x39;

class Cursor {
	constructor(
		readonly data: Uint8Array,
		public position = 0,
	) {}

	fail(what: string): never {
		throw new MetainfoError(`malformed bencode at byte ${this.position}: ${what}`);
	}

	peek(): number {
		const byte = this.data[this.position];
		return byte ?? this.fail('truncated');
	}
}

/** Skips a byte string (`<length>:<bytes>`) and returns where its bytes start. */
function skipString(cursor: Cursor): number {
	let length = 0;
	let digits = 0;
	for (let byte = cursor.peek(); byte !== colon; byte = cursor.peek()) {
		if (byte < digit0 || byte > digit9 || (digits > 0 && length === 0)) {
			cursor.fail('bad string length');
		}

		length = length * 10 + (byte - digit0);
		digits++;
		cursor.position++;
		if (length > cursor.data.length) {
			cursor.fail('string longer than the data');
		}
	}

	if (digits === 0) {
		cursor.fail('bad string length');
	}

	const start = cursor.position + 1;
	cursor.position = start + length;
	if (cursor.position > cursor.data.length) {
		cursor.fail('truncated string');
	}

	return start;
}

/**
 * Walks one value without allocating, validating the syntax (integers, lengths, key strings)
 * and bounding the nesting, so that the recursive decoder behind it never meets a hostile shape.
 */
function skipValue(cursor: Cursor, depth: number): void {
	const byte = cursor.peek();
	if (byte === 0x69 /* i */) {
		const close = cursor.data.indexOf(0x65, cursor.position + 1);
		if (close < 0) {
			cursor.fail('unterminated integer');
		}

		const text = Buffer.from(cursor.data.subarray(cursor.position + 1, close)).toString('latin1');
		if (!/^(0|-?[1-9]\d{0,15})$/.test(text)) {
			cursor.fail(`bad integer "${text.slice(0, 20)}"`);
		}

		cursor.position = close + 1;
	} else if (byte === 0x6c /* l */ || byte === 0x64 /* d */) {
		if (depth >= maxDepth) {
			cursor.fail('nested too deeply');
		}

		cursor.position++;
		while (cursor.peek() !== 0x65 /* e */) {
			if (byte === 0x64) {
				skipString(cursor);
			}

			skipValue(cursor, depth + 1);
		}

		cursor.position++;
	} else if (byte >= digit0 && byte <= digit9) {
		skipString(cursor);
	} else {
		cursor.fail(`unexpected byte 0x${byte.toString(16)}`);
	}
}

/**
 * Builds the value at the cursor, which `skipValue` has already walked: the syntax and depth
 * are known to be sound. Keys are defined, not assigned, so that `__proto__` is an entry like
 * any other (the `bencode` package's decoder let it replace the dictionary's prototype).
 */
function readValue(cursor: Cursor): BencodeValue {
	const {data} = cursor;
	const byte = cursor.peek();
	if (byte === 0x69 /* i */) {
		const close = data.indexOf(0x65, cursor.position + 1);
		const value = Number(Buffer.from(data.subarray(cursor.position + 1, close)).toString('latin1'));
		cursor.position = close + 1;
		return value;
	}

	if (byte === 0x6c /* l */) {
		cursor.position++;
		const list: BencodeValue[] = [];
		while (cursor.peek() !== 0x65) {
			list.push(readValue(cursor));
		}

		cursor.position++;
		return list;
	}

	if (byte === 0x64 /* d */) {
		cursor.position++;
		const dictionary: BencodeDictionary = {};
		while (cursor.peek() !== 0x65) {
			const start = skipString(cursor);
			const key = Buffer.from(data.subarray(start, cursor.position)).toString('utf8');
			Object.defineProperty(dictionary, key, {
				value: readValue(cursor),
				enumerable: true,
				writable: true,
				configurable: true,
			});
		}

		cursor.position++;
		return dictionary;
	}

	const start = skipString(cursor);
	return new Uint8Array(data.buffer, data.byteOffset + start, cursor.position - start);
}

/**
 * Decodes a complete bencoded document. Trailing bytes, bad syntax and absurd nesting are
 * `MetainfoError`s, found by a walk that allocates nothing before any value is built.
 */
export function decodeBencode(data: Uint8Array): BencodeValue {
	const cursor = new Cursor(data);
	skipValue(cursor, 0);
	if (cursor.position !== data.length) {
		throw new MetainfoError(`malformed bencode: ${data.length - cursor.position} trailing bytes`);
	}

	return readValue(new Cursor(data));
}

/**
 * Decodes the one bencoded value `data` starts with and says where it ends: BEP 9's data
 * messages carry raw bytes after their dictionary.
 */
export function decodeBencodePrefix(data: Uint8Array): {value: BencodeValue; length: number} {
	const cursor = new Cursor(data);
	skipValue(cursor, 0);
	return {value: decodeBencode(data.subarray(0, cursor.position)), length: cursor.position};
}

/** The raw bytes of `key`'s value in the top-level dictionary of `data`, if present. */
export function rawDictionaryValue(data: Uint8Array, key: string): Uint8Array | undefined {
	const cursor = new Cursor(data);
	if (cursor.peek() !== 0x64 /* d */) {
		return undefined;
	}

	const wanted = Buffer.from(key, 'latin1');
	cursor.position++;
	while (cursor.peek() !== 0x65 /* e */) {
		const keyStart = skipString(cursor);
		const keyMatches = Buffer.compare(wanted, data.subarray(keyStart, cursor.position)) === 0;
		const valueStart = cursor.position;
		skipValue(cursor, 1);
		if (keyMatches) {
			return data.subarray(valueStart, cursor.position);
		}
	}

	return undefined;
}

/** Encodes a value; strings become UTF-8 byte strings, dictionary keys are sorted as BEP 3 requires. */
export function encodeBencode(value: unknown): Buffer {
	return Buffer.from(bencode.encode(value));
}

/** What a value really is, whatever `instanceof` says of an object whose prototype was tampered with. */
export function isDictionary(value: BencodeValue | undefined): value is BencodeDictionary {
	if (typeof value !== 'object' || value === null || Array.isArray(value) || ArrayBuffer.isView(value)) {
		return false;
	}

	const prototype = Object.getPrototypeOf(value) as unknown;
	return prototype === null || prototype === Object.prototype;
}

export function isBytes(value: BencodeValue | undefined): value is Uint8Array {
	return ArrayBuffer.isView(value) && value instanceof Uint8Array;
}

export function isInteger(value: BencodeValue | undefined): value is number {
	return typeof value === 'number' && Number.isSafeInteger(value);
}

export function bytesToText(value: Uint8Array): string {
	return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('utf8');
}
