import {createHash} from 'node:crypto';
import test from 'ava';
import {decodeBencode, encodeBencode} from '../../source/codec/bencode.js';
import {torrentFileFromInfo} from '../../source/codec/build-metainfo.js';
import {isMagnetLink, parseMagnetLink} from '../../source/codec/magnet.js';
import {parseMetainfo} from '../../source/codec/metainfo.js';
import {MetainfoError} from '../../source/errors.js';

// Big Buck Bunny's info hash, and its base32 form as Python's base64.b32encode writes it.
const hex = 'dd8255ecdc7ca55fb0bbf81323d87062db1f6d1c';
const base32 = '3WBFL3G4PSSV7MF37AJSHWDQMLNR63I4';

test('isMagnetLink: magnet:? in any case, nothing else', (t) => {
	t.true(isMagnetLink(`magnet:?xt=urn:btih:${hex}`));
	t.true(isMagnetLink('MAGNET:?dn=x'));
	t.false(isMagnetLink('file.torrent'));
	t.false(isMagnetLink('magnet:xt=urn:btih:'));
	t.false(isMagnetLink(` magnet:?xt=urn:btih:${hex}`));
	t.false(isMagnetLink('http://example.com/?magnet:?'));
});

test('a hex info hash becomes its 20 bytes; nothing else given, no trackers, peers or web seeds', (t) => {
	const link = parseMagnetLink(`magnet:?xt=urn:btih:${hex}`);
	t.deepEqual(link, {infoHash: Buffer.from(hex, 'hex'), trackers: [], peers: [], webSeeds: []});
	t.is(link.infoHash.length, 20);
});

test('upper-case hex and URN prefix are accepted', (t) => {
	t.is(parseMagnetLink(`magnet:?xt=URN:BTIH:${hex.toUpperCase()}`).infoHash.toString('hex'), hex);
});

test('a base32 info hash decodes to the same 20 bytes as its hex form', (t) => {
	const fromBase32 = parseMagnetLink(`magnet:?xt=urn:btih:${base32}`).infoHash;
	t.is(fromBase32.length, 20);
	t.is(fromBase32.toString('hex'), hex);
	t.is(parseMagnetLink(`magnet:?xt=urn:btih:${base32.toLowerCase()}`).infoHash.toString('hex'), hex);
	t.is(
		parseMagnetLink('magnet:?xt=urn:btih:77777777777777777777777777777777').infoHash.toString('hex'),
		'f'.repeat(40),
	);
	t.is(parseMagnetLink(`magnet:?xt=urn:btih:${'A'.repeat(32)}`).infoHash.toString('hex'), '0'.repeat(40));
});

test('dn is the display name, percent- and plus-decoded', (t) => {
	const link = parseMagnetLink(`magnet:?xt=urn:btih:${hex}&dn=Big+Buck%20Bunny%C3%A9`);
	t.is(link.displayName, 'Big Buck Bunnyé');
	t.false('displayName' in parseMagnetLink(`magnet:?xt=urn:btih:${hex}&dn=`), 'an empty dn is no name');
});

test('several tr, percent-encoded, each kept once in their order', (t) => {
	const one = 'http://127.0.0.1:6969/announce';
	const two = 'udp://tracker.example:1337/announce';
	const link = parseMagnetLink(
		`magnet:?tr=${encodeURIComponent(one)}&xt=urn:btih:${hex}&tr=${encodeURIComponent(two)}&tr=${encodeURIComponent(one)}`,
	);
	t.deepEqual(link.trackers, [one, two]);
});

test('a tracker with its own query string survives when encoded', (t) => {
	const tracker = 'http://127.0.0.1:6969/announce?passkey=abc&uid=7';
	t.deepEqual(parseMagnetLink(`magnet:?xt=urn:btih:${hex}&tr=${encodeURIComponent(tracker)}`).trackers, [
		tracker,
	]);
});

test('x.pe names peers: IPv4 host:port, [IPv6]:port and host names', (t) => {
	const link = parseMagnetLink(
		`magnet:?xt=urn:btih:${hex}&x.pe=127.0.0.1:6881&x.pe=${encodeURIComponent('[::1]:51413')}&x.pe=[2001:db8::7]:1&x.pe=peer.example:65535`,
	);
	t.deepEqual(link.peers, [
		{host: '127.0.0.1', port: 6881},
		{host: '::1', port: 51_413},
		{host: '2001:db8::7', port: 1},
		{host: 'peer.example', port: 65_535},
	]);
});

test('a bad x.pe is ignored, the good ones kept', (t) => {
	const bad = [
		'127.0.0.1',
		'127.0.0.1:0',
		'127.0.0.1:65536',
		'127.0.0.1:port',
		'::1:6881',
		'[::1]',
		':6881',
		'',
	];
	const link = parseMagnetLink(
		`magnet:?xt=urn:btih:${hex}${bad.map((peer) => `&x.pe=${encodeURIComponent(peer)}`).join('')}&x.pe=10.0.0.2:7`,
	);
	t.deepEqual(link.peers, [{host: '10.0.0.2', port: 7}]);
});

test('unknown parameters are ignored', (t) => {
	const link = parseMagnetLink(`magnet:?xt=urn:btih:${hex}&xl=12345&xs=http%3A%2F%2Fexample&so=0-3&kt=a+b`);
	t.is(link.infoHash.toString('hex'), hex);
	t.deepEqual(link.trackers, []);
});

test('BEP 19: ws names web seeds, percent-decoded, each kept once in their order', (t) => {
	const one = 'http://mirror.example/pub/';
	const two = 'https://cdn.example:8443/film.mkv?token=a%2Fb&x=1';
	const link = parseMagnetLink(
		`magnet:?xt=urn:btih:${hex}&ws=${encodeURIComponent(one)}&tr=udp%3A%2F%2Ft%3A1&ws=${encodeURIComponent(two)}&ws=${encodeURIComponent(one)}`,
	);
	t.deepEqual(link.webSeeds, [one, two]);
	t.deepEqual(link.trackers, ['udp://t:1'], 'tr unchanged beside ws');
});

test('BEP 19: a ws that is no http(s) URL, or is over 2,048 characters, is ignored; past 20 the rest too', (t) => {
	const bad = [
		'ftp://mirror.example/pub/',
		'udp://t.example:80',
		'file:///etc/passwd',
		'javascript:alert(1)',
		'http://',
		'http:/one-slash',
		'mirror.example/pub/',
		'',
		`http://h/${'a'.repeat(2041)}`,
	];
	const atLimit = `http://h/${'a'.repeat(2039)}`;
	t.is(atLimit.length, 2048);
	const parameters = [...bad, atLimit, 'HTTPS://UPPER.example/'].map(
		(url) => `&ws=${encodeURIComponent(url)}`,
	);
	t.deepEqual(parseMagnetLink(`magnet:?xt=urn:btih:${hex}${parameters.join('')}`).webSeeds, [
		atLimit,
		'HTTPS://UPPER.example/',
	]);
	const many = Array.from(
		{length: 25},
		(_, index) => `&ws=${encodeURIComponent(`http://m${index}.example/`)}`,
	);
	const kept = parseMagnetLink(`magnet:?xt=urn:btih:${hex}${many.join('')}`).webSeeds;
	t.is(kept.length, 20);
	t.is(kept[0], 'http://m0.example/');
	t.is(kept[19], 'http://m19.example/');
});

test('the first usable xt wins: a v2 btmh before a btih is skipped', (t) => {
	const v2 = `urn:btmh:1220${'ab'.repeat(32)}`;
	t.is(parseMagnetLink(`magnet:?xt=${v2}&xt=urn:btih:${hex}`).infoHash.toString('hex'), hex);
});

for (const [what, link] of [
	['no xt at all', 'magnet:?dn=nothing&tr=http%3A%2F%2F127.0.0.1%2Fannounce'],
	['only a v2 btmh', `magnet:?xt=urn:btmh:1220${'ab'.repeat(32)}`],
	['39 hex digits', `magnet:?xt=urn:btih:${hex.slice(1)}`],
	['41 hex digits', `magnet:?xt=urn:btih:${hex}0`],
	['a hex digit out of range', `magnet:?xt=urn:btih:${hex.slice(1)}g`],
	['base32 with an 8 in it', `magnet:?xt=urn:btih:${base32.slice(1)}8`],
	['31 base32 characters', `magnet:?xt=urn:btih:${base32.slice(1)}`],
	['a hash without urn:btih:', `magnet:?xt=${hex}`],
	['an empty xt', 'magnet:?xt='],
	['nothing after the ?', 'magnet:?'],
] as const) {
	test(`a magnet link with ${what} is a MetainfoError`, (t) => {
		const error = t.throws(() => parseMagnetLink(link), {instanceOf: MetainfoError});
		t.regex(error?.message ?? '', /info hash \(xt\)/);
	});
}

test('something that is not a magnet link is a MetainfoError', (t) => {
	for (const text of ['', 'file.torrent', `urn:btih:${hex}`, `http://example.com/?xt=urn:btih:${hex}`]) {
		t.throws(() => parseMagnetLink(text), {instanceOf: MetainfoError, message: 'not a magnet link'}, text);
	}
});

/** A single-file info dictionary, as a peer would send it over BEP 9. */
function infoDictionary(name = 'film.mkv'): Buffer {
	return encodeBencode({
		length: 40_000,
		name,
		'piece length': 16_384,
		pieces: Buffer.alloc(60, 7),
	});
}

const sha1 = (bytes: Buffer) => createHash('sha1').update(bytes).digest();

test('torrentFileFromInfo with one tracker: announce only, and the same info hash', (t) => {
	const info = infoDictionary();
	const bytes = torrentFileFromInfo(info, ['http://127.0.0.1:6969/announce']);
	const metainfo = parseMetainfo(bytes);
	t.deepEqual(metainfo.infoHash, sha1(info));
	t.true(metainfo.infoBytes.equals(info), 'the info dictionary byte for byte');
	t.deepEqual(metainfo.announceTiers, [['http://127.0.0.1:6969/announce']]);
	t.is(metainfo.name, 'film.mkv');
	t.is(metainfo.totalLength, 40_000);
	const root = decodeBencode(bytes) as Record<string, unknown>;
	t.deepEqual(Object.keys(root).sort(), ['announce', 'info']);
});

test("torrentFileFromInfo with a magnet link's web seeds: a url-list after info, in bencode's key order", (t) => {
	const info = infoDictionary();
	const seeds = ['http://mirror.example/pub/', 'https://other.example/film.mkv'];
	const bytes = torrentFileFromInfo(info, [], seeds);
	const metainfo = parseMetainfo(bytes);
	t.deepEqual(metainfo.infoHash, sha1(info));
	t.deepEqual(metainfo.webSeeds, seeds);
	// The encoder sorts keys: encoding the decoded torrent again gives the same bytes.
	t.true(encodeBencode(decodeBencode(bytes) as Record<string, unknown>).equals(bytes));
});

test('torrentFileFromInfo with several trackers: announce and an announce-list of one tier each', (t) => {
	const info = infoDictionary();
	const trackers = ['http://a.example/announce', 'udp://b.example:80', 'http://c.example/announce'];
	const bytes = torrentFileFromInfo(info, trackers);
	const metainfo = parseMetainfo(bytes);
	t.deepEqual(metainfo.infoHash, sha1(info));
	t.deepEqual(metainfo.announceTiers, [
		['http://a.example/announce'],
		['udp://b.example:80'],
		['http://c.example/announce'],
	]);
	const root = decodeBencode(bytes) as Record<string, unknown>;
	t.deepEqual(Object.keys(root).sort(), ['announce', 'announce-list', 'info']);
	t.is(Buffer.from(root.announce as Uint8Array).toString(), 'http://a.example/announce');
});

test('torrentFileFromInfo without trackers: just the info dictionary', (t) => {
	const info = infoDictionary();
	const bytes = torrentFileFromInfo(info, []);
	t.is(bytes.toString('latin1'), `d4:info${info.toString('latin1')}e`);
	const metainfo = parseMetainfo(bytes);
	t.deepEqual(metainfo.infoHash, sha1(info));
	t.deepEqual(metainfo.announceTiers, []);
});

test('torrentFileFromInfo keeps info bytes that are not canonical bencode, so the hash still matches', (t) => {
	// Keys out of order: decoded and encoded again, they would be sorted and hash differently.
	const info = Buffer.from(
		`d4:name5:a.bin6:lengthi10e12:piece lengthi16384e6:pieces20:${'x'.repeat(20)}1:zi1ee`,
		'latin1',
	);
	t.false(encodeBencode(decodeBencode(info)).equals(info), 'the fixture is not canonical');
	const metainfo = parseMetainfo(torrentFileFromInfo(info, ['http://127.0.0.1/announce']));
	t.true(metainfo.infoBytes.equals(info));
	t.deepEqual(metainfo.infoHash, sha1(info));
});
