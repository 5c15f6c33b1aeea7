import test from 'ava';
import fc from 'fast-check';
import {encodeBencode} from '../../source/codec/bencode.js';
import {type Metainfo, parseMetainfo} from '../../source/codec/metainfo.js';
import {encodePathSegment, isWebSeedUrl, webSeedFileUrl} from '../../source/codec/web-seed-url.js';

type Name = string | Buffer;

/** A single-file torrent called `name`. */
function single(name: Name): Metainfo {
	return parseMetainfo(
		encodeBencode({info: {name, length: 10, 'piece length': 16_384, pieces: Buffer.alloc(20)}}),
	);
}

/** A multi-file torrent called `name` of these paths, 1 byte each. */
function multi(name: Name, paths: Name[][]): Metainfo {
	return parseMetainfo(
		encodeBencode({
			info: {
				name,
				files: paths.map((path) => ({length: 1, path})),
				'piece length': 16_384,
				pieces: Buffer.alloc(20),
			},
		}),
	);
}

const bytes = (...values: number[]) => Buffer.from(values);

/** Each case: what it shows, the web seed, the torrent, the file's index, the URL, where the file is on disk. */
const cases: Array<[string, string, Metainfo, number, string, string]> = [
	['single file, URL of the file', 'http://h/f.iso', single('film.mkv'), 0, 'http://h/f.iso', 'film.mkv'],
	[
		'single file, URL of a folder',
		'http://h/pub/',
		single('film.mkv'),
		0,
		'http://h/pub/film.mkv',
		'film.mkv',
	],
	['single file, URL with no path', 'http://h:8080', single('a.iso'), 0, 'http://h:8080/a.iso', 'a.iso'],
	[
		'single file, URL of the file with a query: as given',
		'https://h/get.php?id=7&k=a%2Fb',
		single('a.iso'),
		0,
		'https://h/get.php?id=7&k=a%2Fb',
		'a.iso',
	],
	[
		'single file, folder URL with a query: the name before the query',
		'http://h/pub/?token=x/y',
		single('a.iso'),
		0,
		'http://h/pub/a.iso?token=x/y',
		'a.iso',
	],
	['single file, host with a query', 'http://h?t=1', single('a.iso'), 0, 'http://h/a.iso?t=1', 'a.iso'],
	[
		'single file, a fragment is dropped',
		'http://h/pub/#top',
		single('a.iso'),
		0,
		'http://h/pub/a.iso',
		'a.iso',
	],
	[
		'spaces, %, #, ?, parentheses, + and ~',
		'http://h/',
		single('my film (2024) 100%#1?+~.mkv'),
		0,
		'http://h/my%20film%20%282024%29%20100%25%231%3F%2B~.mkv',
		'my film (2024) 100%#1?+~.mkv',
	],
	[
		'non-ASCII as its UTF-8 bytes',
		'http://h/',
		single('café ü.flac'),
		0,
		'http://h/caf%C3%A9%20%C3%BC.flac',
		'café ü.flac',
	],
	[
		'invalid UTF-8, byte by byte (on disk `_` a byte)',
		'http://h/',
		single(bytes(0x66, 0xff, 0xc3, 0x2e, 0x78)),
		0,
		'http://h/f%FF%C3.x',
		'f__.x',
	],
	[
		'a name that names nothing: the folder itself',
		'http://h/pub/',
		single('..'),
		0,
		'http://h/pub/',
		'INFOHASH',
	],
	[
		'multi-file: name, then path',
		'http://h/pub/',
		multi('album', [['disc 1', 'a b.flac']]),
		0,
		'http://h/pub/album/disc%201/a%20b.flac',
		'album/disc 1/a b.flac',
	],
	[
		'multi-file, URL without a trailing slash: one is added',
		'http://h/pub',
		multi('album', [['x']]),
		0,
		'http://h/pub/album/x',
		'album/x',
	],
	['multi-file, URL with no path', 'http://h', multi('album', [['x']]), 0, 'http://h/album/x', 'album/x'],
	[
		'multi-file, URL with a query: the path before it',
		'http://h/pub?token=1',
		multi('album', [['x']]),
		0,
		'http://h/pub/album/x?token=1',
		'album/x',
	],
	[
		'multi-file, a slash and a backslash inside components (dropped on disk)',
		'http://h/',
		multi('a/b', [['c\\d', 'e/f']]),
		0,
		'http://h/a%2Fb/c%5Cd/e%2Ff',
		'ab/cd/ef',
	],
	[
		'multi-file, invalid UTF-8 and a bidi mark, raw',
		'http://h/',
		multi('al\u202ebum', [[bytes(0x62, 0x61, 0x64, 0xff), 'ok']]),
		0,
		'http://h/al%E2%80%AEbum/bad%FF/ok',
		'album/bad_/ok',
	],
	[
		'multi-file, renamed on disk beside a clash, its own name in the URL',
		'http://h/',
		multi('set', [['A.txt'], ['a.txt']]),
		1,
		'http://h/set/a.txt',
		'set/a.1.txt',
	],
	[
		'multi-file, `.` and `..` are left out as on disk, and an empty component (on disk `_`)',
		'http://h/',
		multi('set', [['.', 'sub', '', '..', 'f']]),
		0,
		'http://h/set/sub/f',
		'set/sub/_/f',
	],
	[
		'multi-file, reserved characters in names',
		'http://h/',
		multi('s;et', [["a&b=c,d$e!f*g'h@i:j[k]l"]]),
		0,
		'http://h/s%3Bet/a%26b%3Dc%2Cd%24e%21f%2Ag%27h%40i%3Aj%5Bk%5Dl',
		"s;et/a&b=c,d$e!f*g'h@i:j[k]l",
	],
];

for (const [what, seed, torrent, index, url, onDisk] of cases) {
	test(`BEP 19 URL: ${what}`, (t) => {
		const file = torrent.files[index];
		if (!file) {
			t.fail(`no file ${index}`);
			return;
		}

		t.is(webSeedFileUrl(seed, torrent, file), url);
		t.is(file.path.join('/'), onDisk.replace('INFOHASH', torrent.infoHash.toString('hex')));
	});
}

test('every byte: the unreserved characters stand for themselves, the rest are %XX in upper case', (t) => {
	const all = Buffer.from(Array.from({length: 256}, (_, byte) => byte));
	const encoded = encodePathSegment(all);
	t.regex(encoded, /^(?:[A-Za-z0-9\-._~]|%[0-9A-F]{2})+$/);
	t.is(
		encoded.replace(/%[0-9A-F]{2}/g, ''),
		'-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz~',
	);
	t.is(encodePathSegment(Buffer.from(' /')), '%20%2F');
});

test('any bytes come back from their segment, and the WHATWG URL parser leaves the URL as it is', (t) => {
	// fc.assert throws with the shrunk counterexample when the property fails.
	t.notThrows(() =>
		fc.assert(
			fc.property(fc.uint8Array({minLength: 1, maxLength: 40}), (name) => {
				const segment = encodePathSegment(name);
				const decoded = Buffer.from(
					segment.replace(/%([0-9A-F]{2})|(.)/g, (_, hex: string, char: string) =>
						hex ? String.fromCharCode(Number.parseInt(hex, 16)) : char,
					),
					'latin1',
				);
				const url = `http://h/pub/${segment}/x`;
				return (
					decoded.equals(Buffer.from(name)) &&
					(segment === '.' || segment === '..' || new URL(url).href === url)
				);
			}),
		),
	);
});

test('a web seed URL is http or https with a host', (t) => {
	for (const url of [
		'http://h/',
		'https://h.example:8443/pub/x.iso?t=1',
		'HTTP://H/',
		'http://[::1]:8080/',
		'http://h',
	]) {
		t.true(isWebSeedUrl(url), url);
	}

	for (const url of [
		'ftp://h/',
		'udp://h:80',
		'file:///etc/passwd',
		'http://',
		'http:/h/',
		'h/pub/',
		'',
		'http://a b/',
	]) {
		t.false(isWebSeedUrl(url), url);
	}
});
