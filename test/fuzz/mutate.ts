import fc from 'fast-check';

/*
 * Mutators for the fuzz suite: byte-level damage for any encoding (truncation, bit flips,
 * insertions, deletions, hostile length prefixes) and structural damage for bencode (wrong
 * types, missing and extra keys, non-UTF-8 strings, hostile integers), each as a fast-check
 * arbitrary so a failure shrinks to a small mutation of a small seed.
 */

// ---------------------------------------------------------------------------------------------
// Byte mutations

/** Byte strings a hostile encoder likes: bencode tokens, absurd lengths, deep nesting. */
export const hostileSnippets: readonly Buffer[] = [
	'e',
	'i',
	'l',
	'd',
	':',
	'-',
	'0',
	'9',
	'0:',
	'i-0e',
	'i01e',
	'ie',
	'i-e',
	'i99999999999999999999e',
	'i9007199254740993e',
	'i-9223372036854775808e',
	'2147483648:',
	'4294967296:',
	'9999999999999999:',
	'00:',
	'1:',
	'le',
	'de',
	'd1:ae',
	'l'.repeat(200),
	'd1:a'.repeat(100),
	'9:__proto__',
	'11:constructor',
	'4:name',
	'5:files',
	'4:path',
	'6:lengthi-1e',
	'12:piece lengthi0e',
	'6:pieces',
	'5:peers',
	'8:msg_type',
].map((text) => Buffer.from(text, 'latin1'));

/** Values for a 32-bit field that make a careless reader allocate or loop: 2 GiB, 4 GiB - 1… */
export const hostileUint32s: readonly number[] = [
	0, 1, 0x7f_ff_ff_ff, 0x80_00_00_00, 0xff_ff_ff_ff, 0x00_10_00_00, 0x00_02_00_09, 0x00_00_40_09,
];

export type ByteMutation =
	| {op: 'truncate'; at: number}
	| {op: 'flip'; at: number; bit: number}
	| {op: 'overwrite'; at: number; byte: number}
	| {op: 'insert'; at: number; bytes: Uint8Array}
	| {op: 'delete'; at: number; count: number}
	| {op: 'duplicate'; from: number; length: number; at: number}
	| {op: 'uint32'; at: number; value: number};

const position = fc.nat({max: 1 << 20});

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
	fc.record({op: fc.constant('truncate' as const), at: position}),
	{arbitrary: fc.record({op: fc.constant('flip' as const), at: position, bit: fc.nat({max: 7})}), weight: 3},
	fc.record({op: fc.constant('overwrite' as const), at: position, byte: fc.nat({max: 255})}),
	{
		arbitrary: fc.record({
			op: fc.constant('insert' as const),
			at: position,
			bytes: fc.oneof(fc.uint8Array({minLength: 1, maxLength: 8}), fc.constantFrom(...hostileSnippets)),
		}),
		weight: 3,
	},
	fc.record({op: fc.constant('delete' as const), at: position, count: fc.integer({min: 1, max: 16})}),
	fc.record({
		op: fc.constant('duplicate' as const),
		from: position,
		length: fc.integer({min: 1, max: 64}),
		at: position,
	}),
	fc.record({
		op: fc.constant('uint32' as const),
		at: position,
		value: fc.oneof(fc.constantFrom(...hostileUint32s), fc.nat()),
	}),
);

/** Applies one mutation; positions wrap around the input's length, so any number fits any seed. */
export function applyByteMutation(input: Uint8Array, mutation: ByteMutation): Buffer {
	const bytes = Buffer.from(input);
	const at = (value: number) => value % (bytes.length + 1);
	switch (mutation.op) {
		case 'truncate':
			return bytes.subarray(0, at(mutation.at));
		case 'flip':
		case 'overwrite': {
			if (bytes.length === 0) {
				return bytes;
			}

			const index = mutation.at % bytes.length;
			const old = bytes.readUInt8(index);
			bytes.writeUInt8(mutation.op === 'flip' ? old ^ (1 << mutation.bit) : mutation.byte, index);
			return bytes;
		}

		case 'insert': {
			const index = at(mutation.at);
			return Buffer.concat([bytes.subarray(0, index), mutation.bytes, bytes.subarray(index)]);
		}

		case 'delete': {
			const index = at(mutation.at);
			return Buffer.concat([bytes.subarray(0, index), bytes.subarray(index + mutation.count)]);
		}

		case 'duplicate': {
			const from = at(mutation.from);
			const slice = bytes.subarray(from, from + mutation.length);
			const index = at(mutation.at);
			return Buffer.concat([bytes.subarray(0, index), slice, bytes.subarray(index)]);
		}

		case 'uint32': {
			const field = Buffer.alloc(4);
			field.writeUInt32BE(mutation.value >>> 0);
			if (bytes.length < 4) {
				return Buffer.concat([bytes, field]);
			}

			field.copy(bytes, mutation.at % (bytes.length - 3));
			return bytes;
		}
	}
}

/** One to `maxMutations` byte mutations of a seed, applied in turn. */
export function mutatedBytes(
	seed: fc.Arbitrary<Uint8Array>,
	maxMutations = 6,
): fc.Arbitrary<{seed: Uint8Array; mutated: Buffer}> {
	return fc
		.tuple(seed, fc.array(byteMutation, {minLength: 1, maxLength: maxMutations}))
		.map(([original, mutations]) => ({
			seed: original,
			mutated: mutations.reduce<Buffer>(applyByteMutation, Buffer.from(original)),
		}));
}

// ---------------------------------------------------------------------------------------------
// Text mutations (magnet links, JSON lines)

/** Text a hostile writer likes: broken escapes, lone surrogates, separators, huge numbers. */
export const hostileText: readonly string[] = [
	'%',
	'%Z',
	'%ZZ',
	'%FF',
	'%C3%28',
	'%00',
	'\uD800',
	'\uDFFF',
	'\u0000',
	'\uFFFD',
	'&',
	'=',
	'?',
	'#',
	'+',
	'[',
	']',
	':',
	'\n',
	'\r\n',
	'"',
	'{',
	'}',
	'[[[[[[[[',
	',',
	'null',
	'1e400',
	'-1',
	'9007199254740993',
	'"__proto__"',
	'&xt=urn:btih:',
	'&x.pe=[::1]:1',
	'&tr=',
	'&dn=',
];

export type TextMutation =
	| {op: 'truncate'; at: number}
	| {op: 'insert'; at: number; text: string}
	| {op: 'delete'; at: number; count: number}
	| {op: 'replace'; at: number; text: string};

export const textMutation: fc.Arbitrary<TextMutation> = fc.oneof(
	fc.record({op: fc.constant('truncate' as const), at: position}),
	{
		arbitrary: fc.record({
			op: fc.constant('insert' as const),
			at: position,
			text: fc.oneof(fc.constantFrom(...hostileText), fc.string({unit: 'binary', maxLength: 6})),
		}),
		weight: 3,
	},
	fc.record({op: fc.constant('delete' as const), at: position, count: fc.integer({min: 1, max: 16})}),
	fc.record({
		op: fc.constant('replace' as const),
		at: position,
		text: fc.oneof(fc.constantFrom(...hostileText), fc.string({unit: 'binary', maxLength: 3})),
	}),
);

export function applyTextMutation(text: string, mutation: TextMutation): string {
	const at = mutation.at % (text.length + 1);
	switch (mutation.op) {
		case 'truncate':
			return text.slice(0, at);
		case 'insert':
			return text.slice(0, at) + mutation.text + text.slice(at);
		case 'delete':
			return text.slice(0, at) + text.slice(at + mutation.count);
		case 'replace':
			return text.slice(0, at) + mutation.text + text.slice(at + mutation.text.length);
	}
}

export function mutatedText(seed: fc.Arbitrary<string>, maxMutations = 6): fc.Arbitrary<string> {
	return fc
		.tuple(seed, fc.array(textMutation, {minLength: 1, maxLength: maxMutations}))
		.map(([original, mutations]) => mutations.reduce(applyTextMutation, original));
}

// ---------------------------------------------------------------------------------------------
// Bencode as written: a tree that keeps what decoders lose (key order, duplicate keys, raw key
// bytes, integers past 2^53), so mutations can express any document.

export type BencodeNode =
	| {kind: 'int'; value: bigint}
	| {kind: 'bytes'; value: Uint8Array}
	| {kind: 'list'; items: BencodeNode[]}
	| {kind: 'dict'; entries: Array<[Uint8Array, BencodeNode]>};

const text = (value: string) => Buffer.from(value, 'utf8');

export const bytesNode = (value: Uint8Array | string): BencodeNode => ({
	kind: 'bytes',
	value: typeof value === 'string' ? text(value) : value,
});
export const intNode = (value: number | bigint): BencodeNode => ({kind: 'int', value: BigInt(value)});
export const listNode = (items: BencodeNode[]): BencodeNode => ({kind: 'list', items});

/** A dictionary with its keys sorted as BEP 3 asks (by raw bytes). */
export function dictNode(entries: Record<string, BencodeNode>): BencodeNode {
	return {
		kind: 'dict',
		entries: Object.entries(entries)
			.map(([key, value]): [Uint8Array, BencodeNode] => [text(key), value])
			.sort(([a], [b]) => Buffer.compare(a, b)),
	};
}

/** Writes a tree as it is: keys in the order given, duplicates kept. */
export function encodeNode(node: BencodeNode): Buffer {
	const parts: Buffer[] = [];
	const write = (current: BencodeNode): void => {
		switch (current.kind) {
			case 'int':
				parts.push(Buffer.from(`i${current.value}e`, 'latin1'));
				return;
			case 'bytes':
				parts.push(Buffer.from(`${current.value.length}:`, 'latin1'), Buffer.from(current.value));
				return;
			case 'list':
				parts.push(Buffer.from('l'));
				for (const item of current.items) {
					write(item);
				}

				parts.push(Buffer.from('e'));
				return;
			case 'dict':
				parts.push(Buffer.from('d'));
				for (const [key, value] of current.entries) {
					write(bytesNode(key));
					write(value);
				}

				parts.push(Buffer.from('e'));
		}
	};

	write(node);
	return Buffer.concat(parts);
}

/** Reads a valid document (a seed) into a tree; it trusts its input, so never give it fuzz. */
export function parseNode(data: Uint8Array): BencodeNode {
	const bytes = Buffer.from(data);
	let offset = 0;
	const read = (): BencodeNode => {
		const byte = bytes.readUInt8(offset);
		if (byte === 0x69 /* i */) {
			const end = bytes.indexOf(0x65, offset);
			const value = BigInt(bytes.toString('latin1', offset + 1, end));
			offset = end + 1;
			return {kind: 'int', value};
		}

		if (byte === 0x6c /* l */ || byte === 0x64 /* d */) {
			offset++;
			const items: BencodeNode[] = [];
			while (bytes.readUInt8(offset) !== 0x65) {
				items.push(read());
			}

			offset++;
			if (byte === 0x6c) {
				return {kind: 'list', items};
			}

			const entries: Array<[Uint8Array, BencodeNode]> = [];
			for (let index = 0; index + 1 < items.length; index += 2) {
				const key = items[index];
				const value = items[index + 1];
				if (key?.kind === 'bytes' && value) {
					entries.push([key.value, value]);
				}
			}

			return {kind: 'dict', entries};
		}

		const colon = bytes.indexOf(0x3a, offset);
		const length = Number(bytes.toString('latin1', offset, colon));
		offset = colon + 1 + length;
		return {kind: 'bytes', value: bytes.subarray(colon + 1, offset)};
	};

	return read();
}

/** Integers at the edges: zero, negatives, 2^31, 2^32, 2^53 and past it, more digits than any decoder keeps. */
export const hostileIntegers: readonly bigint[] = [
	0n,
	-1n,
	1n,
	2n ** 31n - 1n,
	2n ** 31n,
	2n ** 32n,
	2n ** 53n - 1n,
	2n ** 53n,
	2n ** 53n + 1n,
	-(2n ** 53n),
	10n ** 16n - 1n,
	2n ** 63n,
	10n ** 30n,
];

/** Keys torrent-rx reads somewhere: a mutated dictionary often has one of them with the wrong type. */
export const protocolKeys: readonly string[] = [
	'announce',
	'announce-list',
	'comment',
	'created by',
	'info',
	'name',
	'name.utf-8',
	'piece length',
	'pieces',
	'length',
	'files',
	'path',
	'path.utf-8',
	'private',
	'failure reason',
	'warning message',
	'interval',
	'min interval',
	'tracker id',
	'complete',
	'incomplete',
	'peers',
	'peers6',
	'ip',
	'port',
	'm',
	'v',
	'p',
	'reqq',
	'metadata_size',
	'ut_metadata',
	'ut_pex',
	'msg_type',
	'piece',
	'total_size',
	'added',
	'added.f',
	'added6',
	'dropped',
	'dropped6',
];

/**
 * Keys that name Object.prototype's own members. A decoder that stores keys on a plain object
 * turns `__proto__` into the object's prototype.
 */
export const prototypeKeys: readonly string[] = [
	'__proto__',
	'constructor',
	'prototype',
	'toString',
	'valueOf',
	'hasOwnProperty',
];

/** Bytes that are not UTF-8: a lone continuation byte, an overlong form, a cut sequence, a surrogate. */
export const nonUtf8Strings: readonly Uint8Array[] = [
	[0xff],
	[0x80],
	[0xc0, 0xaf],
	[0xe2, 0x82],
	[0xed, 0xa0, 0x80],
	[0x61, 0xfe, 0x62],
].map((bytes) => Uint8Array.from(bytes));

/**
 * A dictionary key: usually one torrent-rx reads, else random bytes (non-UTF-8 included);
 * with `withPrototypeKeys`, sometimes `__proto__` and its friends.
 */
export function dictionaryKey({withPrototypeKeys = false} = {}): fc.Arbitrary<Uint8Array> {
	return fc.oneof(
		{arbitrary: fc.constantFrom(...protocolKeys).map(text), weight: 4},
		fc.uint8Array({maxLength: 6}),
		fc.constantFrom(...nonUtf8Strings),
		...(withPrototypeKeys ? [{arbitrary: fc.constantFrom(...prototypeKeys).map(text), weight: 2}] : []),
	);
}

export function integerNode(): fc.Arbitrary<BencodeNode> {
	return fc
		.oneof(
			{arbitrary: fc.bigInt({min: -1000n, max: 100_000n}), weight: 3},
			fc.constantFrom(...hostileIntegers),
			fc.bigInt({min: -(2n ** 64n), max: 2n ** 64n}),
		)
		.map((value): BencodeNode => ({kind: 'int', value}));
}

export function bytesValueNode(): fc.Arbitrary<BencodeNode> {
	return fc
		.oneof(
			{arbitrary: fc.uint8Array({maxLength: 40}), weight: 3},
			fc.constantFrom(...nonUtf8Strings),
			fc.string({maxLength: 20}).map(text),
			fc.constantFrom('http://127.0.0.1:6969/announce', '..', '.', 'a/b', 'nul\0', '').map(text),
			// Whole compact peers (6 and 18 bytes each), for the fields that hold them.
			fc
				.integer({min: 0, max: 8})
				.chain((count) => fc.uint8Array({minLength: count * 6, maxLength: count * 6})),
			fc
				.integer({min: 0, max: 4})
				.chain((count) => fc.uint8Array({minLength: count * 18, maxLength: count * 18})),
		)
		.map((value): BencodeNode => ({kind: 'bytes', value}));
}

/** Any bencode document (keys unsorted, duplicated, non-UTF-8, hostile when asked). */
export function bencodeNode({
	withPrototypeKeys = false,
	maxDepth = 5,
}: {
	withPrototypeKeys?: boolean;
	maxDepth?: number;
} = {}): fc.Arbitrary<BencodeNode> {
	const key = dictionaryKey({withPrototypeKeys});
	const {node} = fc.letrec<{node: BencodeNode}>((tie) => ({
		node: fc.oneof(
			{maxDepth, depthSize: 'small'},
			integerNode(),
			bytesValueNode(),
			fc.array(tie('node'), {maxLength: 5}).map((items): BencodeNode => ({kind: 'list', items})),
			fc
				.array(fc.tuple(key, tie('node')), {maxLength: 6})
				.map((entries): BencodeNode => ({kind: 'dict', entries})),
		),
	}));
	return node;
}

export type TreeMutation = {
	/** Which node, counted in pre-order, modulo the tree's size. */
	target: number;
	op:
		| 'replace'
		| 'wrap'
		| 'disguise'
		| 'empty'
		| 'non-utf8'
		| 'integer'
		| 'delete'
		| 'add'
		| 'duplicate'
		| 'swap';
	choice: number;
	key: Uint8Array;
	value: BencodeNode;
	integer: bigint;
};

export function treeMutation(options: {withPrototypeKeys?: boolean} = {}): fc.Arbitrary<TreeMutation> {
	return fc.record({
		target: fc.nat(),
		op: fc.constantFrom<TreeMutation['op']>(
			...(options.withPrototypeKeys ? (['disguise', 'disguise'] as const) : []),
			'replace',
			'wrap',
			'empty',
			'non-utf8',
			'integer',
			'delete',
			'delete',
			'add',
			'add',
			'duplicate',
			'swap',
		),
		choice: fc.nat(),
		key: dictionaryKey(options),
		value: bencodeNode({...options, maxDepth: 2}),
		integer: fc.constantFrom(...hostileIntegers),
	});
}

function countNodes(node: BencodeNode): number {
	switch (node.kind) {
		case 'list':
			return 1 + node.items.reduce((sum, item) => sum + countNodes(item), 0);
		case 'dict':
			return 1 + node.entries.reduce((sum, [, value]) => sum + countNodes(value), 0);
		default:
			return 1;
	}
}

function mutateNode(node: BencodeNode, mutation: TreeMutation): BencodeNode {
	const {op, choice, key, value, integer} = mutation;
	switch (op) {
		case 'replace':
			return value;
		case 'wrap':
			return {kind: 'list', items: [node]};
		case 'disguise':
			// A dictionary whose only key is `__proto__`: decoded onto a plain object, it takes the
			// value as its prototype and then passes for it (`instanceof Uint8Array`).
			return {kind: 'dict', entries: [[Buffer.from('__proto__'), node]]};
		case 'empty':
			return node.kind === 'int'
				? {kind: 'int', value: 0n}
				: node.kind === 'bytes'
					? {kind: 'bytes', value: new Uint8Array()}
					: node.kind === 'list'
						? {kind: 'list', items: []}
						: {kind: 'dict', entries: []};
		case 'non-utf8': {
			const bad = nonUtf8Strings[choice % nonUtf8Strings.length] ?? new Uint8Array([0xff]);
			if (node.kind !== 'bytes') {
				return {kind: 'bytes', value: bad};
			}

			const at = choice % (node.value.length + 1);
			return {
				kind: 'bytes',
				value: Buffer.concat([node.value.subarray(0, at), bad, node.value.subarray(at)]),
			};
		}

		case 'integer':
			return {kind: 'int', value: integer};
		case 'delete':
		case 'duplicate':
		case 'swap':
		case 'add': {
			if (node.kind === 'list') {
				const items = [...node.items];
				const index = choice % (items.length + 1);
				if (op === 'add') {
					items.splice(index, 0, value);
				} else if (items.length > 0) {
					const at = index % items.length;
					const item = items[at] as BencodeNode;
					if (op === 'delete') {
						items.splice(at, 1);
					} else if (op === 'duplicate') {
						items.splice(at, 0, item);
					} else {
						items.splice(at, 1, value);
					}
				}

				return {kind: 'list', items};
			}

			if (node.kind === 'dict') {
				const entries = [...node.entries];
				const index = choice % (entries.length + 1);
				if (op === 'add') {
					entries.splice(index, 0, [key, value]);
				} else if (entries.length > 0) {
					const at = index % entries.length;
					const entry = entries[at] as [Uint8Array, BencodeNode];
					if (op === 'delete') {
						entries.splice(at, 1);
					} else if (op === 'duplicate') {
						// The same key twice, the second with another value: which one wins?
						entries.splice(at + 1, 0, [entry[0], value]);
					} else {
						// The value of one key under another key.
						entries.splice(at, 1, [key, entry[1]]);
					}
				}

				return {kind: 'dict', entries};
			}

			return value;
		}
	}
}

/** Applies `mutation` at its target node and returns the new tree; the input is left alone. */
export function applyTreeMutation(tree: BencodeNode, mutation: TreeMutation): BencodeNode {
	let remaining = mutation.target % countNodes(tree);
	const visit = (node: BencodeNode): BencodeNode => {
		if (remaining === 0) {
			remaining = -1;
			return mutateNode(node, mutation);
		}

		remaining--;
		if (node.kind === 'list') {
			return {kind: 'list', items: node.items.map(visit)};
		}

		if (node.kind === 'dict') {
			return {kind: 'dict', entries: node.entries.map(([key, value]) => [key, visit(value)])};
		}

		return node;
	};

	return visit(tree);
}

/** One to `maxMutations` structural mutations of a seed document, re-encoded. */
export function mutatedDocument(
	seed: fc.Arbitrary<Uint8Array>,
	{maxMutations = 4, withPrototypeKeys = false}: {maxMutations?: number; withPrototypeKeys?: boolean} = {},
): fc.Arbitrary<Buffer> {
	return fc
		.tuple(seed, fc.array(treeMutation({withPrototypeKeys}), {minLength: 1, maxLength: maxMutations}))
		.map(([original, mutations]) => encodeNode(mutations.reduce(applyTreeMutation, parseNode(original))));
}

/** Structural damage, then byte damage on top, or either alone: the mix the fuzz targets use. */
export function damaged(
	seed: fc.Arbitrary<Uint8Array>,
	options: {withPrototypeKeys?: boolean} = {},
): fc.Arbitrary<Buffer> {
	return fc.oneof(
		mutatedBytes(seed).map(({mutated}) => mutated),
		mutatedDocument(seed, options),
		mutatedBytes(mutatedDocument(seed, options), 2).map(({mutated}) => mutated),
	);
}

// ---------------------------------------------------------------------------------------------
// JSON documents (the resume file, history log lines): wrong types, missing and extra fields

export type JsonValue = null | boolean | number | string | JsonValue[] | {[key: string]: JsonValue};

/** Values a careless reader trips on: wrong types, empty things, huge and negative numbers. */
export const hostileJsonValues: readonly JsonValue[] = [
	null,
	true,
	0,
	-1,
	1.5,
	2 ** 31,
	2 ** 53 + 2,
	1e308,
	'',
	'AAAA',
	'not base64 ✓',
	[],
	[null],
	{},
	{length: 2 ** 31},
];

export type JsonMutation = {
	/** Which node, counted in pre-order, modulo the document's size. */
	target: number;
	op: 'replace' | 'delete' | 'add' | 'wrap';
	key: string;
	value: JsonValue;
};

export const jsonMutation: fc.Arbitrary<JsonMutation> = fc.record({
	target: fc.nat(),
	op: fc.constantFrom('replace', 'replace', 'delete', 'add', 'wrap'),
	key: fc.oneof(
		{
			arbitrary: fc.constantFrom(
				// The resume file's fields and the history log's.
				'version',
				'infoHash',
				'pieceCount',
				'have',
				'files',
				'size',
				'mtimeMs',
				'type',
				'at',
				'name',
				'peer',
				'peerId',
				'peers',
				'client',
				'tracker',
				'bytes',
				'index',
			),
			weight: 3,
		},
		fc.string({maxLength: 6}),
	),
	value: fc.oneof(
		fc.constantFrom(...hostileJsonValues),
		fc.jsonValue({maxDepth: 2}) as fc.Arbitrary<JsonValue>,
	),
});

function countJson(value: JsonValue): number {
	if (Array.isArray(value)) {
		return 1 + value.reduce<number>((sum, item) => sum + countJson(item), 0);
	}

	if (typeof value === 'object' && value !== null) {
		return 1 + Object.values(value).reduce<number>((sum, item) => sum + countJson(item), 0);
	}

	return 1;
}

function mutateJsonNode(value: JsonValue, {op, key, value: replacement}: JsonMutation): JsonValue {
	switch (op) {
		case 'replace':
			// A field the reader expects, with the wrong type or value; else the node itself.
			if (typeof value === 'object' && value !== null && !Array.isArray(value) && key in value) {
				return {...value, [key]: replacement};
			}

			return replacement;
		case 'wrap':
			return [value];
		case 'add':
		case 'delete': {
			if (Array.isArray(value)) {
				return op === 'add' ? [...value, replacement] : value.slice(1);
			}

			if (typeof value === 'object' && value !== null) {
				const keys = Object.keys(value);
				const copy = {...value};
				if (op === 'add') {
					Object.defineProperty(copy, key, {
						value: replacement,
						enumerable: true,
						writable: true,
						configurable: true,
					});
				} else {
					// The named field if there is one, else the first.
					delete copy[keys.includes(key) ? key : (keys[0] ?? key)];
				}

				return copy;
			}

			return replacement;
		}
	}
}

/** Applies `mutation` at its target node of a parsed JSON document; the input is left alone. */
export function applyJsonMutation(document: JsonValue, mutation: JsonMutation): JsonValue {
	let remaining = mutation.target % countJson(document);
	const visit = (value: JsonValue): JsonValue => {
		if (remaining === 0) {
			remaining = -1;
			return mutateJsonNode(value, mutation);
		}

		remaining--;
		if (Array.isArray(value)) {
			return value.map(visit);
		}

		if (typeof value === 'object' && value !== null) {
			return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, visit(item)]));
		}

		return value;
	};

	return visit(document);
}
