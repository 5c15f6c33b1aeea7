import test from 'ava';
import {decodeBencode, encodeBencode} from '../../source/codec/bencode.js';
import {
	decodeExtendedHandshake,
	decodeMetadataMessage,
	decodePex,
	encodeExtendedHandshake,
	encodeMetadataMessage,
	type MetadataMessage,
	maxMetadataSize,
	maxPexPeers,
	metadataPieceLength,
	ourExtensions,
} from '../../source/codec/extension-protocol.js';
import {PeerProtocolError} from '../../source/errors.js';

const text = (bytes: Buffer) => bytes.toString('latin1');

test('our extended handshake is the bencoded m, v, p, reqq and metadata_size, keys sorted', (t) => {
	const encoded = encodeExtendedHandshake({
		client: 'torrent-rx 0.1.0',
		port: 6881,
		requestQueue: 250,
		metadataSize: 31_235,
	});
	t.is(
		text(encoded),
		'd1:md11:ut_metadatai1e6:ut_pexi2ee13:metadata_sizei31235e1:pi6881e4:reqqi250e1:v16:torrent-rx 0.1.0e',
	);
	t.deepEqual(ourExtensions, {ut_metadata: 1, ut_pex: 2});
	t.is(metadataPieceLength, 16 * 1024);
});

test('our extended handshake round-trips through decode', (t) => {
	const encoded = encodeExtendedHandshake({
		client: 'torrent-rx 0.1.0',
		port: 51_413,
		requestQueue: 100,
		metadataSize: 40_000,
	});
	t.deepEqual(decodeExtendedHandshake(encoded), {
		extensions: new Map([
			['ut_metadata', 1],
			['ut_pex', 2],
		]),
		client: 'torrent-rx 0.1.0',
		port: 51_413,
		requestQueue: 100,
		metadataSize: 40_000,
	});
});

test('without the metadata, a port or peer exchange, those keys are left out', (t) => {
	const encoded = encodeExtendedHandshake({client: 'rx', port: 0, requestQueue: 5, withPex: false});
	t.is(text(encoded), 'd1:md11:ut_metadatai1ee4:reqqi5e1:v2:rxe');
	const decoded = decodeExtendedHandshake(encoded);
	t.deepEqual([...decoded.extensions], [['ut_metadata', 1]]);
	t.is(decoded.port, undefined);
	t.is(decoded.metadataSize, undefined);
});

test("decodes libtorrent's extended handshake: its ids, client, port, queue and metadata size", (t) => {
	// What libtorrent 2.0 sends, keys and all (yourip is our address as it sees it, 4 raw bytes).
	const payload = encodeBencode({
		complete_ago: 1,
		m: {
			lt_donthave: 7,
			share_mode: 8,
			upload_only: 3,
			ut_holepunch: 4,
			ut_metadata: 2,
			ut_pex: 1,
		},
		metadata_size: 12_345,
		p: 6881,
		reqq: 500,
		upload_only: 1,
		v: 'libtorrent/2.0.8.0',
		yourip: Buffer.from([127, 0, 0, 1]),
	});
	const decoded = decodeExtendedHandshake(payload);
	t.is(decoded.extensions.get('ut_metadata'), 2);
	t.is(decoded.extensions.get('ut_pex'), 1);
	t.is(decoded.extensions.get('lt_donthave'), 7);
	t.is(decoded.extensions.size, 6);
	t.is(decoded.client, 'libtorrent/2.0.8.0');
	t.is(decoded.port, 6881);
	t.is(decoded.requestQueue, 500);
	t.is(decoded.metadataSize, 12_345);
});

test('an id of 0 (the peer stopped speaking an extension) is kept; ids out of 0..255 or not numbers are not', (t) => {
	const decoded = decodeExtendedHandshake(
		encodeBencode({m: {ut_metadata: 0, ut_pex: 256, big: 255, negative: -1, word: 'three', list: [1]}}),
	);
	t.deepEqual(
		[...decoded.extensions].sort(([a], [b]) => a.localeCompare(b)),
		[
			['big', 255],
			['ut_metadata', 0],
		],
	);
});

test('v is made printable and cut to 40 characters', (t) => {
	const colours = '\u001B[31mred\u001B[0m';
	t.is(decodeExtendedHandshake(encodeBencode({v: colours})).client, '[31mred [0m');
	t.is(decodeExtendedHandshake(encodeBencode({v: 'tab\there\nnew'})).client, 'tab here new');
	const long = 'x'.repeat(100);
	t.is(decodeExtendedHandshake(encodeBencode({v: long})).client, 'x'.repeat(40));
	t.is(decodeExtendedHandshake(encodeBencode({v: 'µTorrent 3.5'})).client, 'µTorrent 3.5', 'UTF-8 decoded');
	t.false('client' in decodeExtendedHandshake(encodeBencode({v: 42})), 'a number is no client name');
});

test('a bad p, reqq or metadata_size is ignored, the rest kept', (t) => {
	for (const bad of [
		{p: 0, reqq: 0, metadata_size: 0},
		{p: 65_536, reqq: -5, metadata_size: -1},
		{p: -1, reqq: 'lots', metadata_size: maxMetadataSize + 1},
		{p: '6881', reqq: [1], metadata_size: '1000'},
	]) {
		const decoded = decodeExtendedHandshake(encodeBencode({m: {ut_metadata: 3}, v: 'peer', ...bad}));
		t.deepEqual(decoded, {extensions: new Map([['ut_metadata', 3]]), client: 'peer'}, JSON.stringify(bad));
	}

	const edges = decodeExtendedHandshake(encodeBencode({p: 65_535, reqq: 1, metadata_size: maxMetadataSize}));
	t.is(edges.port, 65_535);
	t.is(edges.requestQueue, 1);
	t.is(edges.metadataSize, maxMetadataSize);
	t.is(maxMetadataSize, 64 * 1024 * 1024);
});

test('a handshake without m (or with m not a dictionary) speaks no extension', (t) => {
	t.deepEqual(decodeExtendedHandshake(encodeBencode({v: 'x'})).extensions, new Map());
	t.deepEqual(decodeExtendedHandshake(encodeBencode({m: 'ut_metadata'})).extensions, new Map());
	t.deepEqual(decodeExtendedHandshake(Buffer.from('de')), {extensions: new Map()});
});

test('an extended handshake that is not a dictionary, or not bencode, is a PeerProtocolError', (t) => {
	for (const payload of ['li1ee', 'i3e', '4:spam', '', 'd1:m', 'garbage', 'de trailing']) {
		t.throws(
			() => decodeExtendedHandshake(Buffer.from(payload, 'latin1')),
			{instanceOf: PeerProtocolError},
			payload,
		);
	}

	t.throws(() => decodeExtendedHandshake(Buffer.from('li1ee')), {message: /not a dictionary/});
	t.throws(() => decodeExtendedHandshake(Buffer.from('d1:m')), {message: /malformed extended handshake/});
});

test('ut_metadata request and reject are a bare dictionary of msg_type and piece', (t) => {
	t.is(text(encodeMetadataMessage({kind: 'request', piece: 0})), 'd8:msg_typei0e5:piecei0ee');
	t.is(text(encodeMetadataMessage({kind: 'reject', piece: 7})), 'd8:msg_typei2e5:piecei7ee');
	t.deepEqual(decodeMetadataMessage(Buffer.from('d8:msg_typei0e5:piecei3ee')), {kind: 'request', piece: 3});
	t.deepEqual(decodeMetadataMessage(Buffer.from('d8:msg_typei2e5:piecei1ee')), {kind: 'reject', piece: 1});
});

test('ut_metadata data is the dictionary with total_size, then the raw piece bytes', (t) => {
	const data = Buffer.from([0x64, 0x65, 0x00, 0xff, 0x31, 0x3a]);
	const encoded = encodeMetadataMessage({kind: 'data', piece: 2, totalSize: 40_000, data});
	const head = 'd8:msg_typei1e5:piecei2e10:total_sizei40000ee';
	t.is(text(encoded.subarray(0, head.length)), head);
	t.true(encoded.subarray(head.length).equals(data), 'the bytes follow the dictionary unchanged');
	t.is(encoded.length, head.length + data.length);

	const decoded = decodeMetadataMessage(encoded);
	t.is(decoded.kind, 'data');
	t.like(decoded, {piece: 2, totalSize: 40_000});
	t.true(decoded.kind === 'data' && decoded.data.equals(data));
});

test('a full 16 KiB data piece that itself looks like bencode round-trips', (t) => {
	// Info dictionaries are bencode: the raw bytes must not be mistaken for more of the dictionary.
	const data = Buffer.alloc(metadataPieceLength, 'd4:infoe');
	const messages: MetadataMessage[] = [
		{kind: 'data', piece: 0, totalSize: 3 * metadataPieceLength, data},
		{kind: 'data', piece: 5, totalSize: 1, data: Buffer.alloc(0)},
		{kind: 'request', piece: 1_000_000},
	];
	for (const message of messages) {
		t.deepEqual(decodeMetadataMessage(encodeMetadataMessage(message)), message);
	}
});

test('data with keys BEP 9 does not name still decodes', (t) => {
	const payload = Buffer.concat([
		encodeBencode({msg_type: 1, piece: 0, total_size: 4, extra: 'x'}),
		Buffer.from('abcd'),
	]);
	const decoded = decodeMetadataMessage(payload);
	t.true(decoded.kind === 'data' && decoded.data.toString() === 'abcd');
});

const badMetadataMessages: Array<[what: string, payload: Buffer, message: RegExp]> = [
	['a list', Buffer.from('li1ei2ee'), /not a dictionary/],
	['an integer', Buffer.from('i1e'), /not a dictionary/],
	['no piece', Buffer.from('d8:msg_typei0ee'), /without a piece number/],
	['a negative piece', Buffer.from('d8:msg_typei0e5:piecei-1ee'), /without a piece number/],
	['a piece that is a string', Buffer.from('d8:msg_typei0e5:piece1:0e'), /without a piece number/],
	['msg_type 3', Buffer.from('d8:msg_typei3e5:piecei0ee'), /unknown type 3/],
	['no msg_type', Buffer.from('d5:piecei0ee'), /unknown type/],
	[
		'a msg_type that is a dictionary with its own toString',
		Buffer.from('d8:msg_typed8:toString1:x9:__proto__i0ee5:piecei0ee'),
		/unknown type that is not an integer/,
	],
	['data without total_size', Buffer.from('d8:msg_typei1e5:piecei0eeXY'), /total_size/],
	['data with total_size 0', Buffer.from('d8:msg_typei1e5:piecei0e10:total_sizei0eeXY'), /total_size/],
	[
		'data with an absurd total_size',
		Buffer.concat([
			encodeBencode({msg_type: 1, piece: 0, total_size: maxMetadataSize + 1}),
			Buffer.from('X'),
		]),
		/total_size/,
	],
	['garbage', Buffer.from('\u0000\u0001garbage'), /malformed ut_metadata/],
	['a truncated dictionary', Buffer.from('d8:msg_typei1e5:pie'), /malformed ut_metadata/],
	['nothing', Buffer.alloc(0), /malformed ut_metadata/],
];

for (const [what, payload, message] of badMetadataMessages) {
	test(`a ut_metadata message with ${what} is a PeerProtocolError`, (t) => {
		const error = t.throws(() => decodeMetadataMessage(payload), {instanceOf: PeerProtocolError});
		t.regex(error?.message ?? '', message);
	});
}

test('the encoded messages are valid bencode up to the data bytes', (t) => {
	t.deepEqual(decodeBencode(encodeMetadataMessage({kind: 'request', piece: 9})), {msg_type: 0, piece: 9});
});

test('PEX: at most 50 added peers are decoded, IPv4 first, and no URL is built for an IPv6 peer past them', (t) => {
	const added = Buffer.alloc(40 * 6, 1);
	const added6 = Buffer.alloc(10_000 * 18, 0x20);
	const dropped6 = Buffer.alloc(10_000 * 18, 0x30);
	const RealUrl = globalThis.URL;
	let built = 0;
	globalThis.URL = class extends RealUrl {
		constructor(...parameters: ConstructorParameters<typeof URL>) {
			super(...parameters);
			built++;
		}
	};
	try {
		const {added: peers, dropped} = decodePex(encodeBencode({added, added6, dropped6}));
		t.is(peers.length, maxPexPeers);
		t.is(peers[0]?.host, '1.1.1.1');
		t.is(peers[40]?.host, '2020:2020:2020:2020:2020:2020:2020:2020');
		t.is(dropped.length, maxPexPeers);
		t.true(built <= 2 * maxPexPeers, `${built} URLs built`);
	} finally {
		globalThis.URL = RealUrl;
	}
});
