import {isIP} from 'node:net';
import test from 'ava';
import fc from 'fast-check';
import {
	decodeExtendedHandshake,
	decodeMetadataMessage,
	decodePex,
	type ExtendedHandshake,
	encodeExtendedHandshake,
	encodeMetadataMessage,
	encodePex,
	type MetadataMessage,
	maxMetadataSize,
	maxPexPeers,
	type PexMessage,
} from '../../source/codec/extension-protocol.js';
import {PeerProtocolError} from '../../source/errors.js';
import {expectOutcome, fuzzParameters, hasControlCharacters, holds, invariant} from './harness.js';
import {bencodeNode, damaged, dictNode, encodeNode} from './mutate.js';
import {ipv4Peer} from './seeds.js';

const runs = fuzzParameters(600);

const extendedHandshake = fc.record({
	client: fc.string({unit: 'binary', maxLength: 60}),
	port: fc.integer({min: 0, max: 65_535}),
	requestQueue: fc.integer({min: 1, max: 10_000}),
	metadataSize: fc.option(fc.integer({min: 1, max: maxMetadataSize}), {nil: undefined}),
	withPex: fc.boolean(),
});

const metadataMessage: fc.Arbitrary<MetadataMessage> = fc.oneof(
	fc.record({kind: fc.constantFrom('request' as const, 'reject' as const), piece: fc.nat()}),
	fc.record({
		kind: fc.constant('data' as const),
		piece: fc.nat(),
		totalSize: fc.integer({min: 1, max: maxMetadataSize}),
		data: fc.uint8Array({maxLength: 64}).map((bytes) => Buffer.from(bytes)),
	}),
);

const pexMessage: fc.Arbitrary<PexMessage> = fc.record({
	added: fc.array(ipv4Peer, {maxLength: 60}),
	dropped: fc.array(ipv4Peer, {maxLength: 60}),
});

const encodedHandshake = extendedHandshake.map(({metadataSize, ...rest}) =>
	encodeExtendedHandshake({...rest, ...(metadataSize === undefined ? {} : {metadataSize})}),
);
const encodedMetadataMessage = metadataMessage.map(encodeMetadataMessage);
const encodedPex = pexMessage.map(encodePex);
const anyExtensionPayload = fc.oneof(encodedHandshake, encodedMetadataMessage, encodedPex);

function assertExtendedHandshake(handshake: ExtendedHandshake): void {
	for (const [name, id] of handshake.extensions) {
		invariant(
			typeof name === 'string' && Number.isInteger(id) && id >= 0 && id <= 255,
			`extension ${name}: ${id}`,
		);
	}

	invariant(handshake.port === undefined || (handshake.port > 0 && handshake.port < 65_536), 'port');
	invariant(handshake.requestQueue === undefined || handshake.requestQueue > 0, 'reqq');
	invariant(
		handshake.metadataSize === undefined ||
			(handshake.metadataSize > 0 && handshake.metadataSize <= maxMetadataSize),
		'metadata_size within the limit',
	);
	invariant(
		handshake.client === undefined ||
			(handshake.client.length <= 40 && !hasControlCharacters(handshake.client)),
		'a short printable client name',
	);
}

function assertMetadataMessage(message: MetadataMessage, payload: Buffer): void {
	invariant(Number.isSafeInteger(message.piece) && message.piece >= 0, 'piece');
	if (message.kind === 'data') {
		invariant(message.totalSize > 0 && message.totalSize <= maxMetadataSize, 'total_size within the limit');
		invariant(
			payload.subarray(payload.length - message.data.length).equals(message.data),
			'the data is the tail',
		);
	}
}

function assertPex(pex: PexMessage): void {
	invariant(
		pex.added.length <= 2 * maxPexPeers && pex.dropped.length <= 2 * maxPexPeers,
		'a bounded peer list',
	);
	for (const peer of [...pex.added, ...pex.dropped]) {
		invariant(isIP(peer.host) !== 0 && peer.port > 0 && peer.port < 65_536, `peer ${peer.host}:${peer.port}`);
	}
}

/** The three BEP 9/10/11 decoders on one payload: each a value or a PeerProtocolError. */
function decodeEveryWay(payload: Buffer): void {
	const handshake = expectOutcome(() => decodeExtendedHandshake(payload), [PeerProtocolError]);
	if (handshake.ok) {
		assertExtendedHandshake(handshake.value);
	}

	const metadata = expectOutcome(() => decodeMetadataMessage(payload), [PeerProtocolError]);
	if (metadata.ok) {
		assertMetadataMessage(metadata.value, payload);
	}

	const pex = expectOutcome(() => decodePex(payload), [PeerProtocolError]);
	if (pex.ok) {
		assertPex(pex.value);
	}
}

test('extension protocol: extended handshakes decode to what was encoded', (t) => {
	holds(
		t,
		fc.property(extendedHandshake, ({metadataSize, ...rest}) => {
			const decoded = decodeExtendedHandshake(
				encodeExtendedHandshake({...rest, ...(metadataSize === undefined ? {} : {metadataSize})}),
			);
			assertExtendedHandshake(decoded);
			invariant(decoded.extensions.get('ut_metadata') === 1, 'ut_metadata');
			invariant(decoded.extensions.get('ut_pex') === (rest.withPex ? 2 : undefined), 'ut_pex');
			invariant(decoded.port === (rest.port > 0 ? rest.port : undefined), 'port');
			invariant(decoded.requestQueue === rest.requestQueue, 'reqq');
			invariant(decoded.metadataSize === metadataSize, 'metadata_size');
		}),
		runs,
	);
});

test('extension protocol: ut_metadata messages decode to what was encoded, data after the dictionary', (t) => {
	holds(
		t,
		fc.property(metadataMessage, (message) => {
			const decoded = decodeMetadataMessage(encodeMetadataMessage(message));
			invariant(
				JSON.stringify(decoded) === JSON.stringify(message),
				`${JSON.stringify(decoded)} ≠ ${JSON.stringify(message)}`,
			);
		}),
		runs,
	);
});

test('extension protocol: ut_pex messages decode to the first 50 IPv4 peers added and dropped', (t) => {
	holds(
		t,
		fc.property(pexMessage, (message) => {
			const decoded = decodePex(encodePex(message));
			invariant(
				JSON.stringify(decoded) ===
					JSON.stringify({
						added: message.added.slice(0, maxPexPeers),
						dropped: message.dropped.slice(0, maxPexPeers),
					}),
				'the same peers',
			);
		}),
		runs,
	);
});

test('extension protocol: random payloads decode or throw a PeerProtocolError, in all three decoders', (t) => {
	holds(
		t,
		fc.property(
			fc.oneof(
				fc.uint8Array({maxLength: 64}).map((bytes) => Buffer.from(bytes)),
				bencodeNode().map(encodeNode),
				// Random values under the keys the decoders read.
				fc
					.dictionary(
						fc.constantFrom(
							'm',
							'v',
							'p',
							'reqq',
							'metadata_size',
							'msg_type',
							'piece',
							'total_size',
							'added',
							'added6',
							'dropped',
							'dropped6',
						),
						bencodeNode({maxDepth: 2}),
					)
					.map((fields) => encodeNode(dictNode(fields))),
			),
			(payload) => {
				decodeEveryWay(payload);
			},
		),
		runs,
	);
});

test('extension protocol: mutated handshakes, ut_metadata and ut_pex messages decode or throw a PeerProtocolError', (t) => {
	holds(
		t,
		fc.property(damaged(anyExtensionPayload), (payload) => {
			decodeEveryWay(payload);
		}),
		runs,
	);
});

// Regression (see bencode.fuzz.ts): a `__proto__` key once made a dictionary pass for bytes, so
// decodeExtendedHandshake and decodePex threw a TypeError, not a PeerProtocolError; the peer was
// dropped either way, but with an untyped error. Our own bencode decoder fixed it.
test('extension protocol: mutated extension messages with __proto__ keys decode or throw a PeerProtocolError', (t) => {
	holds(
		t,
		fc.property(damaged(anyExtensionPayload, {withPrototypeKeys: true}), (payload) => {
			decodeEveryWay(payload);
		}),
		runs,
	);
});

test('extension protocol: a client name or added peers that are dictionaries (with a __proto__ key) are ignored', (t) => {
	// Once a TypeError deep in Buffer.from; now a dictionary is simply not the string or bytes expected.
	t.deepEqual(decodeExtendedHandshake(Buffer.from('d1:vd9:__proto__0:ee')), {extensions: new Map()});
	t.deepEqual(decodePex(Buffer.from('d5:addedd9:__proto__0:ee')), {added: [], dropped: []});
});

test('extension protocol: limits: a metadata_size or total_size over 64 MiB is ignored or refused, nesting is refused', (t) => {
	t.is(decodeExtendedHandshake(Buffer.from(`d13:metadata_sizei${2 ** 31}ee`)).metadataSize, undefined);
	t.is(
		decodeExtendedHandshake(Buffer.from(`d13:metadata_sizei${maxMetadataSize + 1}ee`)).metadataSize,
		undefined,
	);
	t.throws(() => decodeMetadataMessage(Buffer.from(`d8:msg_typei1e5:piecei0e10:total_sizei${2 ** 31}ee`)), {
		instanceOf: PeerProtocolError,
	});
	const deep = Buffer.from(`d1:m${'l'.repeat(100_000)}`);
	t.throws(() => decodeExtendedHandshake(deep), {instanceOf: PeerProtocolError});
	t.throws(() => decodeMetadataMessage(deep), {instanceOf: PeerProtocolError});
	t.throws(() => decodePex(deep), {instanceOf: PeerProtocolError});
	t.throws(() => decodeMetadataMessage(Buffer.from('d8:msg_typei1e5:piece2147483648:')), {
		instanceOf: PeerProtocolError,
	});
});
