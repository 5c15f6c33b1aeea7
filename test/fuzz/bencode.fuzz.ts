import test from 'ava';
import fc from 'fast-check';
import {
	type BencodeValue,
	decodeBencode,
	decodeBencodePrefix,
	encodeBencode,
	rawDictionaryValue,
} from '../../source/codec/bencode.js';
import {MetainfoError} from '../../source/errors.js';
import {arrayBufferGrowth, expectOutcome, fuzzParameters, holds, invariant} from './harness.js';
import {
	type BencodeNode,
	bencodeNode,
	damaged,
	encodeNode,
	hostileSnippets,
	listNode,
	prototypeKeys,
} from './mutate.js';
import {torrentBytes, trackerReplyBytes} from './seeds.js';

const runs = fuzzParameters(800);

/** Bytes drawn mostly from bencode's own alphabet, so random input gets past the first byte. */
const bencodeish = fc
	.array(
		fc.oneof(
			{
				arbitrary: fc.constantFrom(...'ilde:-0123456789'.split('').map((char) => Buffer.from(char))),
				weight: 5,
			},
			fc.constantFrom(...hostileSnippets),
			fc.uint8Array({maxLength: 4}),
		),
		{maxLength: 40},
	)
	.map((parts) => Buffer.concat(parts));

/**
 * What `decodeBencode` promises: numbers (safe or not, as bencode integers can be), real
 * Uint8Arrays, arrays, and plain dictionaries, and nothing dressed up as one of them.
 */
function assertBencodeValue(value: BencodeValue, path = '$'): void {
	if (typeof value === 'number') {
		invariant(Number.isInteger(value), `${path} is the integer ${value}`);
		return;
	}

	if (value instanceof Uint8Array) {
		invariant(ArrayBuffer.isView(value), `${path} claims to be bytes but is no typed array`);
		return;
	}

	if (Array.isArray(value)) {
		value.forEach((item, index) => {
			assertBencodeValue(item, `${path}[${index}]`);
		});
		return;
	}

	invariant(
		typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype,
		`${path} is a dictionary with a foreign prototype`,
	);
	for (const [key, item] of Object.entries(value)) {
		assertBencodeValue(item, `${path}.${key}`);
	}
}

/** Every entry point of the module on one input: a value, or a MetainfoError. */
function decodeEveryWay(input: Uint8Array): void {
	const decoded = expectOutcome(() => decodeBencode(input), [MetainfoError]);
	const prefix = expectOutcome(() => decodeBencodePrefix(input), [MetainfoError]);
	expectOutcome(() => rawDictionaryValue(input, 'info'), [MetainfoError]);
	if (decoded.ok) {
		invariant(prefix.ok && prefix.value.length === input.length, 'a whole document is its own prefix');
	}

	if (prefix.ok) {
		invariant(
			prefix.value.length > 0 && prefix.value.length <= input.length,
			'the prefix lies inside the input',
		);
	}
}

test('bencode: random bytes decode to a value or a MetainfoError', (t) => {
	holds(
		t,
		fc.property(fc.oneof(fc.uint8Array({maxLength: 64}), bencodeish), (input) => {
			decodeEveryWay(input);
		}),
		runs,
	);
});

test('bencode: random documents (keys unsorted, duplicated, non-UTF-8, __proto__) decode or throw a MetainfoError', (t) => {
	holds(
		t,
		fc.property(bencodeNode({withPrototypeKeys: true}), (node) => {
			decodeEveryWay(encodeNode(node));
		}),
		runs,
	);
});

test('bencode: mutated torrents and tracker replies decode or throw a MetainfoError', (t) => {
	holds(
		t,
		fc.property(damaged(fc.oneof(torrentBytes, trackerReplyBytes), {withPrototypeKeys: true}), (input) => {
			decodeEveryWay(input);
		}),
		runs,
	);
});

/** What `decodeBencode` should give for a tree: keys as text, the last of twins winning. */
function expectedValue(node: BencodeNode): BencodeValue {
	switch (node.kind) {
		case 'int':
			return Number(node.value);
		case 'bytes':
			return new Uint8Array(node.value);
		case 'list':
			return node.items.map(expectedValue);
		case 'dict':
			return Object.fromEntries(
				node.entries.map(([key, value]) => [Buffer.from(key).toString(), expectedValue(value)]),
			);
	}
}

/** Documents that BEP 3 allows and a JS object can hold: safe integers, sorted unique ASCII keys. */
const validNode: fc.Arbitrary<BencodeNode> = fc.letrec<{node: BencodeNode}>((tie) => ({
	node: fc.oneof(
		{maxDepth: 4, depthSize: 'small'},
		fc.maxSafeInteger().map((value): BencodeNode => ({kind: 'int', value: BigInt(value)})),
		fc.uint8Array({maxLength: 30}).map((value): BencodeNode => ({kind: 'bytes', value})),
		fc.array(tie('node'), {maxLength: 4}).map(listNode),
		fc
			.dictionary(
				fc.string({unit: 'binary-ascii', maxLength: 8}).filter((key) => !prototypeKeys.includes(key)),
				tie('node'),
				{maxKeys: 5},
			)
			.map(
				(entries): BencodeNode => ({
					kind: 'dict',
					entries: Object.entries(entries)
						.map(([key, value]): [Uint8Array, BencodeNode] => [Buffer.from(key), value])
						.sort(([a], [b]) => Buffer.compare(a, b)),
				}),
			),
	),
})).node;

test('bencode: valid documents decode to exactly what they encode, and encode back to the same bytes', (t) => {
	holds(
		t,
		fc.property(validNode, (node) => {
			const bytes = encodeNode(node);
			const value = decodeBencode(bytes);
			assertBencodeValue(value);
			invariant(
				encodeBencode(value).equals(bytes),
				`re-encoding ${bytes.toString('latin1')} gave ${encodeBencode(value).toString('latin1')}`,
			);
			invariant(
				JSON.stringify(value, (_key, item: unknown) => (item instanceof Uint8Array ? [...item] : item)) ===
					JSON.stringify(expectedValue(node), (_key, item: unknown) =>
						item instanceof Uint8Array ? [...item] : item,
					),
				'decoded value differs from the document',
			);
			const prefix = decodeBencodePrefix(Buffer.concat([bytes, Buffer.from('trailing raw bytes')]));
			invariant(prefix.length === bytes.length, 'the prefix ends where the document does');
		}),
		runs,
	);
});

test('bencode: decoded values of valid-key documents are plain bencode values', (t) => {
	holds(
		t,
		fc.property(damaged(fc.oneof(torrentBytes, trackerReplyBytes)), (input) => {
			const outcome = expectOutcome(() => decodeBencode(input), [MetainfoError]);
			if (outcome.ok) {
				assertBencodeValue(outcome.value);
			}
		}),
		runs,
	);
});

// Regression: the `bencode` package's decoder stored keys with `dict[key] = value`, so a key
// `__proto__` once replaced a dictionary's prototype; with a byte string value the dictionary
// passed `isBytes` and `bytesToText`/`Buffer.from` threw TypeErrors. Our own decoder now defines
// keys rather than assigning them, and isDictionary/isBytes check real types.
test('bencode: decoded dictionaries never take a prototype from the document (__proto__ keys)', (t) => {
	holds(
		t,
		fc.property(bencodeNode({withPrototypeKeys: true}), (node) => {
			const outcome = expectOutcome(() => decodeBencode(encodeNode(node)), [MetainfoError]);
			if (outcome.ok) {
				assertBencodeValue(outcome.value);
			}
		}),
		runs,
	);
});

test('bencode: the key __proto__ is an entry like any other', (t) => {
	const value = decodeBencode(Buffer.from('d9:__proto__0:e', 'latin1'));
	t.false(value instanceof Uint8Array, 'a dictionary that passes for bytes');
	t.deepEqual(Object.keys(value as object), ['__proto__']);
});

test('bencode: nesting has a limit: 100,000 nested lists or dictionaries are a MetainfoError, not a stack overflow', (t) => {
	for (const [open, close] of [
		['l', 'e'],
		['d1:a', 'e'],
		['li0el', 'e'],
	] as const) {
		const deep = Buffer.from(`${open.repeat(100_000)}${close.repeat(100_000)}`, 'latin1');
		const outcome = expectOutcome(() => decodeBencode(deep), [MetainfoError]);
		t.false(outcome.ok, `${open}… nested 100,000 deep`);
		t.false(expectOutcome(() => decodeBencodePrefix(deep), [MetainfoError]).ok);
		t.false(
			expectOutcome(
				() => rawDictionaryValue(Buffer.from(`d4:info${deep.toString('latin1')}e`), 'info'),
				[MetainfoError],
			).ok,
		);
	}

	// The limit is not far above what real documents use.
	const limit = [2, 8, 16, 32, 64, 100, 128, 256, 1000].find(
		(depth) =>
			!expectOutcome(
				() => decodeBencode(Buffer.from(`${'l'.repeat(depth)}${'e'.repeat(depth)}`)),
				[MetainfoError],
			).ok,
	);
	t.truthy(limit, 'some depth up to 1,000 is refused');
	t.true((limit ?? 0) > 8, 'real torrents nest about five deep');
});

test('bencode: string lengths have a limit: a 2 GiB or 4 GiB length prefix is a MetainfoError, allocating nothing', (t) => {
	for (const prefix of [
		'2147483648:',
		'4294967295:',
		'9007199254740993:',
		'99999999999999999999:',
		'l2147483648:',
	]) {
		const input = Buffer.from(`${prefix}abc`, 'latin1');
		let outcome: ReturnType<typeof expectOutcome> | undefined;
		const growth = arrayBufferGrowth(() => {
			outcome = expectOutcome(() => decodeBencode(input), [MetainfoError], 100);
		});
		t.false(outcome?.ok, prefix);
		t.true(growth < 16 * 1024 * 1024, `${prefix} grew ArrayBuffers by ${growth} bytes`);
	}
});

test('bencode: integers have a limit: more digits than a double keeps are a MetainfoError', (t) => {
	for (const text of ['i99999999999999999999e', `i${'9'.repeat(400)}e`, 'i-99999999999999999e']) {
		t.throws(() => decodeBencode(Buffer.from(text)), {instanceOf: MetainfoError}, text);
	}

	t.is(decodeBencode(Buffer.from('i9007199254740991e')), Number.MAX_SAFE_INTEGER);
});
