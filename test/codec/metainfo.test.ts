import {createHash} from 'node:crypto';
import test from 'ava';
import {encodeBencode} from '../../source/codec/bencode.js';
import {parseInfoDictionary, parseMetainfo} from '../../source/codec/metainfo.js';
import {MetainfoError} from '../../source/errors.js';

type ParsedTorrent = {
	infoHash: string;
	name: string;
	announce: string[];
	files: Array<{path: string; length: number; offset: number}>;
	pieceLength: number;
	length: number;
	private?: boolean;
};

// parse-torrent ships no types and @types/parse-torrent is not a dependency: import it through a
// widened specifier and describe the part of its result these tests read.
const parseTorrent = (
	(await import('parse-torrent' as string)) as {default: (torrent: Uint8Array) => Promise<ParsedTorrent>}
).default;

const sha1 = (data: Uint8Array) => createHash('sha1').update(data).digest();

/** `count` distinct 20-byte piece hashes, concatenated as `info.pieces` holds them. */
const pieces = (count: number) =>
	Buffer.concat(Array.from({length: count}, (_, index) => sha1(Buffer.from(`piece ${index}`))));

const singleFileInfo = (extra: Record<string, unknown> = {}) => ({
	name: 'hello.txt',
	'piece length': 16,
	length: 40,
	pieces: pieces(3),
	...extra,
});

const multiFileInfo = (files: unknown[], extra: Record<string, unknown> = {}) => ({
	name: 'album',
	'piece length': 16,
	files,
	...extra,
});

const torrent = (info: unknown, root: Record<string, unknown> = {}) =>
	encodeBencode({announce: 'http://tracker.example/announce', info, ...root});

const file = (length: number, ...path: string[]) => ({length, path});

test('parses a single-file torrent', (t) => {
	const metainfo = parseMetainfo(
		torrent(singleFileInfo(), {comment: 'a comment', 'created by': 'torrent-rx test'}),
	);
	t.is(metainfo.name, 'hello.txt');
	t.false(metainfo.multiFile);
	t.is(metainfo.pieceLength, 16);
	t.is(metainfo.totalLength, 40);
	t.deepEqual(metainfo.files, [{path: ['hello.txt'], length: 40, offset: 0}]);
	t.is(metainfo.pieceHashes.count, 3);
	t.deepEqual(metainfo.pieceHashes.at(1), sha1(Buffer.from('piece 1')));
	t.deepEqual(metainfo.announceTiers, [['http://tracker.example/announce']]);
	t.false(metainfo.private);
	t.is(metainfo.comment, 'a comment');
	t.is(metainfo.createdBy, 'torrent-rx test');
});

test('parses a multi-file torrent: files live under the folder `name`, at running offsets', (t) => {
	const metainfo = parseMetainfo(
		torrent(
			multiFileInfo([file(10, 'a.txt'), file(0, 'empty'), file(25, 'disc 1', 'b.flac'), file(5, 'c')], {
				pieces: pieces(3),
			}),
		),
	);
	t.true(metainfo.multiFile);
	t.is(metainfo.name, 'album');
	t.is(metainfo.totalLength, 40);
	t.deepEqual(metainfo.files, [
		{path: ['album', 'a.txt'], length: 10, offset: 0},
		{path: ['album', 'empty'], length: 0, offset: 10},
		{path: ['album', 'disc 1', 'b.flac'], length: 25, offset: 10},
		{path: ['album', 'c'], length: 5, offset: 35},
	]);
});

test('prefers path.utf-8 and name.utf-8 over the legacy keys', (t) => {
	const metainfo = parseMetainfo(
		torrent(
			multiFileInfo([{length: 32, path: ['legacy'], 'path.utf-8': ['caf\u00e9']}], {
				'name.utf-8': 'd\u00e9j\u00e0',
				pieces: pieces(2),
			}),
		),
	);
	t.is(metainfo.name, 'd\u00e9j\u00e0');
	t.deepEqual(metainfo.files[0]?.path, ['d\u00e9j\u00e0', 'caf\u00e9']);
});

test('a lone announce becomes one tier of one', (t) => {
	const metainfo = parseMetainfo(torrent(singleFileInfo(), {announce: 'udp://only.example:6969'}));
	t.deepEqual(metainfo.announceTiers, [['udp://only.example:6969']]);
});

test('BEP 12: announce-list supersedes announce, keeping its tiers in order', (t) => {
	const metainfo = parseMetainfo(
		torrent(singleFileInfo(), {
			announce: 'http://ignored.example/announce',
			'announce-list': [
				['http://a1.example/announce', 'udp://a2.example:80'],
				['http://b1.example/announce'],
			],
		}),
	);
	t.deepEqual(metainfo.announceTiers, [
		['http://a1.example/announce', 'udp://a2.example:80'],
		['http://b1.example/announce'],
	]);
});

test('an announce-list of only empty tiers falls back to announce', (t) => {
	const metainfo = parseMetainfo(torrent(singleFileInfo(), {'announce-list': [[], ['']]}));
	t.deepEqual(metainfo.announceTiers, [['http://tracker.example/announce']]);
});

test('a torrent without trackers has no tiers', (t) => {
	const metainfo = parseMetainfo(encodeBencode({info: singleFileInfo()}));
	t.deepEqual(metainfo.announceTiers, []);
});

test('reads the private flag', (t) => {
	t.true(parseMetainfo(torrent(singleFileInfo({private: 1}))).private);
	t.false(parseMetainfo(torrent(singleFileInfo({private: 0}))).private);
	t.false(parseMetainfo(torrent(singleFileInfo())).private);
});

test('the info hash matches parse-torrent for a normal torrent', async (t) => {
	for (const data of [
		torrent(singleFileInfo({private: 1})),
		torrent(multiFileInfo([file(10, 'a'), file(30, 'sub', 'b')], {pieces: pieces(3)})),
	]) {
		const metainfo = parseMetainfo(data);
		const reference = await parseTorrent(data);
		t.is(metainfo.infoHash.toString('hex'), reference.infoHash);
		t.is(metainfo.name, reference.name);
		t.is(metainfo.totalLength, reference.length);
		t.deepEqual(
			metainfo.files.map((entry) => ({
				path: entry.path.join('/'),
				length: entry.length,
				offset: entry.offset,
			})),
			reference.files.map((entry) => ({
				path: entry.path.split(/[\\/]/).join('/'),
				length: entry.length,
				offset: entry.offset,
			})),
		);
	}
});

test('the info hash covers unknown extra keys of the info dictionary', async (t) => {
	const plain = torrent(singleFileInfo());
	const data = torrent(singleFileInfo({source: 'PRIVATE-SITE', 'x-custom': [1, 'two']}));
	const metainfo = parseMetainfo(data);
	const reference = await parseTorrent(data);
	t.is(metainfo.infoHash.toString('hex'), reference.infoHash);
	t.notDeepEqual(metainfo.infoHash, parseMetainfo(plain).infoHash);
	t.deepEqual(
		metainfo.infoHash,
		sha1(encodeBencode(singleFileInfo({source: 'PRIVATE-SITE', 'x-custom': [1, 'two']}))),
	);
});

test('the info hash is the SHA-1 of the exact info bytes, even when its keys are not sorted', (t) => {
	// Written by hand: `name` and `pieces` come before `length` and `piece length`, and an unknown
	// key sits in the middle. Re-encoding would sort the keys and change the hash.
	const infoBytes = Buffer.concat([
		Buffer.from('d4:name9:hello.txt6:pieces60:', 'latin1'),
		pieces(3),
		Buffer.from('8:x-customi7e6:lengthi40e12:piece lengthi16ee', 'latin1'),
	]);
	const data = Buffer.concat([
		Buffer.from('d4:info', 'latin1'),
		infoBytes,
		Buffer.from('8:announce31:http://tracker.example/announcee', 'latin1'),
	]);
	const metainfo = parseMetainfo(data);
	t.deepEqual(metainfo.infoHash, sha1(infoBytes));
	t.deepEqual(metainfo.infoBytes, infoBytes);
	// The sorted re-encoding is a different document, with a different hash.
	const resorted = encodeBencode({
		name: 'hello.txt',
		pieces: pieces(3),
		'x-custom': 7,
		length: 40,
		'piece length': 16,
	});
	t.notDeepEqual(resorted, infoBytes);
	t.notDeepEqual(metainfo.infoHash, sha1(resorted));
	t.is(metainfo.totalLength, 40);
	t.deepEqual(metainfo.announceTiers, [['http://tracker.example/announce']]);
});

test('parseInfoDictionary hashes the bytes it is given (BEP 9 metadata)', (t) => {
	const infoBytes = encodeBencode(singleFileInfo());
	const info = parseInfoDictionary(infoBytes);
	t.deepEqual(info.infoHash, sha1(infoBytes));
	t.deepEqual(info.infoHash, parseMetainfo(torrent(singleFileInfo())).infoHash);
});

const failures: Array<[what: string, data: () => Uint8Array, message: RegExp]> = [
	[
		'pieces not a multiple of 20',
		() => torrent(singleFileInfo({pieces: pieces(2).subarray(0, 39)})),
		/multiple of 20/,
	],
	[
		'too few piece hashes for the length',
		() => torrent(singleFileInfo({pieces: pieces(2)})),
		/2 hashes.*need 3/,
	],
	[
		'too many piece hashes for the length',
		() => torrent(singleFileInfo({pieces: pieces(4)})),
		/4 hashes.*need 3/,
	],
	['a zero piece length', () => torrent(singleFileInfo({'piece length': 0})), /piece length/],
	['a negative piece length', () => torrent(singleFileInfo({'piece length': -16})), /piece length/],
	['a missing piece length', () => torrent({name: 'x', length: 1, pieces: pieces(1)}), /piece length/],
	['a negative file length', () => torrent(singleFileInfo({length: -1})), /invalid length/],
	['a missing pieces key', () => torrent({name: 'x', 'piece length': 16, length: 1}), /"pieces"/],
	['a missing name', () => torrent({'piece length': 16, length: 1, pieces: pieces(1)}), /"name"/],
	[
		'an empty path list',
		() => torrent(multiFileInfo([{length: 16, path: []}], {pieces: pieces(1)})),
		/info\.files\[0\] has no path/,
	],
	['an empty files list', () => torrent(multiFileInfo([], {pieces: pieces(0)})), /non-empty list/],
	[
		'a missing info dictionary',
		() => encodeBencode({announce: 'http://tracker.example/announce'}),
		/no "info"/,
	],
	['an info that is not a dictionary', () => torrent('not a dictionary'), /no "info"/],
	['a truncated file', () => torrent(singleFileInfo()).subarray(0, 60), /malformed bencode.*truncated/],
	['a root that is not a dictionary', () => encodeBencode([1, 2]), /not a bencoded dictionary/],
];

test('bytes after the top-level dictionary are ignored, as libtorrent ignores them', (t) => {
	const plain = parseMetainfo(torrent(singleFileInfo()));
	const trailed = parseMetainfo(Buffer.concat([torrent(singleFileInfo()), Buffer.from('\nx garbage')]));
	t.deepEqual(trailed.infoHash, plain.infoHash);
	t.deepEqual(trailed.files, plain.files);
});

/** Odd names, and what each becomes (as libtorrent 2.0 makes them; odd-names.test.ts checks it does). */
const oddNames: Array<[what: string, info: () => unknown, paths: string[]]> = [
	[
		'a `..` component, dropped',
		() => multiFileInfo([file(16, '..', 'escape')], {pieces: pieces(1)}),
		['album/escape'],
	],
	[
		'a `.` component, dropped',
		() => multiFileInfo([file(8, 'ok'), file(8, '.', 'x')], {pieces: pieces(1)}),
		['album/ok', 'album/x'],
	],
	[
		'an empty component, `_`',
		() => multiFileInfo([file(16, 'dir', '')], {pieces: pieces(1)}),
		['album/dir/_'],
	],
	['a path of `..` alone, `_`', () => multiFileInfo([file(16, '..', '.')], {pieces: pieces(1)}), ['album/_']],
	[
		'a slash inside a component, dropped',
		() => multiFileInfo([file(16, 'a/b')], {pieces: pieces(1)}),
		['album/ab'],
	],
	[
		'a Windows path in one component',
		() => multiFileInfo([file(16, 'dir\\sub\\f.txt')], {pieces: pieces(1)}),
		['album/dirsubf.txt'],
	],
	[
		'NUL, dropped; other controls, `_`',
		() => multiFileInfo([file(16, 'a\0b\u0001c')], {pieces: pieces(1)}),
		['album/ab_c'],
	],
	[
		'a duplicate path, renamed',
		() => multiFileInfo([file(8, 'dir', 'same.txt'), file(8, 'dir', 'same.txt')], {pieces: pieces(1)}),
		['album/dir/same.txt', 'album/dir/same.1.txt'],
	],
	[
		'a file where a folder is, renamed',
		() => multiFileInfo([file(8, 'dir'), file(8, 'dir', 'inner')], {pieces: pieces(1)}),
		['album/dir.1', 'album/dir/inner'],
	],
	[
		'paths that differ in case alone, renamed',
		() => multiFileInfo([file(8, 'A.txt'), file(8, 'a.txt')], {pieces: pieces(1)}),
		['album/A.txt', 'album/a.1.txt'],
	],
	[
		'a 304-byte name, cut to 240 with its extension',
		() => multiFileInfo([file(16, `${'a'.repeat(300)}.mkv`)], {pieces: pieces(1)}),
		[`album/${'a'.repeat(240)}.mkv`],
	],
	['the name `..`, the info hash', () => singleFileInfo({name: '..'}), ['INFOHASH']],
	['an empty name, `_`', () => singleFileInfo({name: ''}), ['_']],
	['a name with a slash', () => singleFileInfo({name: 'a/b'}), ['ab']],
];

for (const [what, info, paths] of oddNames) {
	test(`an odd name is made safe, not refused: ${what}`, (t) => {
		const metainfo = parseMetainfo(torrent(info()));
		const expected = paths.map((expectedPath) =>
			expectedPath.replace('INFOHASH', metainfo.infoHash.toString('hex')),
		);
		t.deepEqual(
			metainfo.files.map((entry) => entry.path.join('/')),
			expected,
		);
	});
}

test('invalid UTF-8 becomes `_` a byte; bidi marks are dropped', (t) => {
	const info = multiFileInfo(
		[{length: 16, path: [Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe]), Buffer.from('a\u202eb')]}],
		{pieces: pieces(1)},
	);
	t.deepEqual(parseMetainfo(torrent(info)).files[0]?.path, ['album', 'bad__', 'ab']);
});

for (const [what, data, message] of failures) {
	test(`rejects ${what} with a MetainfoError`, (t) => {
		const error = t.throws(() => parseMetainfo(data()), {instanceOf: MetainfoError, message});
		t.is(error?.name, 'MetainfoError');
	});
}

/** A link entry (BEP 47 `attr` `l`) of the torrent `album`, with `extra` keys. */
const link = (path: string[], symlinkPath: unknown, extra: Record<string, unknown> = {}) => ({
	length: 0,
	path,
	attr: 'l',
	'symlink path': symlinkPath,
	...extra,
});

/** The files of a torrent of one 16-byte `a.txt`, one `sub/b.txt` of 0, and `entries` after them. */
const withLinks = (...entries: unknown[]) =>
	parseMetainfo(
		torrent(multiFileInfo([file(16, 'a.txt'), file(0, 'sub', 'b.txt'), ...entries], {pieces: pieces(1)})),
	).files;

/** What becomes of `symlink path`: the target below `album/`, or undefined for a regular file. */
const symlinkPaths: Array<[what: string, entry: unknown, target: string[] | undefined]> = [
	['a file of the torrent', link(['l'], ['a.txt']), ['a.txt']],
	['a folder of the torrent', link(['l'], ['sub']), ['sub']],
	['a file of the torrent, from a link in a folder', link(['sub', 'l'], ['a.txt']), ['a.txt']],
	// libtorrent's create_torrent writes the link's own text, relative to the link's folder.
	[
		'the text of a link in a folder, as libtorrent writes it',
		link(['sub', 'l'], ['b.txt']),
		['sub', 'b.txt'],
	],
	['`..` from a link in a folder, as libtorrent writes it', link(['sub', 'l'], ['..', 'a.txt']), ['a.txt']],
	['nothing of the torrent: taken from the top, as BEP 47 says', link(['sub', 'l'], ['x', 'y']), ['x', 'y']],
	['`.` and empty components, dropped', link(['l'], ['.', '', 'a.txt']), ['a.txt']],
	['`..` after a folder, taking it back', link(['l'], ['sub', '..', 'a.txt']), ['a.txt']],
	[
		'`..` that climb out, kept at the front',
		link(['l'], ['..', '..', 'etc', 'passwd']),
		['..', '..', 'etc', 'passwd'],
	],
	['a slash in a component, dropped as in file paths', link(['l'], ['/etc/passwd']), ['etcpasswd']],
	['a control character, `_`', link(['l'], ['a\u0001b']), ['a_b']],
	['no symlink path: a regular file', {length: 0, path: ['l'], attr: 'l'}, undefined],
	['a symlink path that is no list: a regular file', link(['l'], 'a.txt'), undefined],
	['an empty symlink path: a regular file', link(['l'], []), undefined],
	['`.` alone: a regular file', link(['l'], ['.']), undefined],
	['the torrent folder itself: a regular file', link(['l'], ['sub', '..']), undefined],
	[
		'a symlink path without `l`: a regular file',
		{length: 0, path: ['l'], 'symlink path': ['a.txt']},
		undefined,
	],
	['a pad file that says `l` too: a pad file', link(['p'], ['a.txt'], {attr: 'lp'}), undefined],
];

for (const [what, entry, target] of symlinkPaths) {
	test(`BEP 47 symlink path: ${what}`, (t) => {
		const parsed = withLinks(entry).at(-1);
		t.deepEqual(parsed?.symlinkTarget, target);
		t.is(parsed?.length, 0);
	});
}

test('BEP 47: a link holds no payload bytes, whatever its length says, as libtorrent reads it; it may have none', (t) => {
	const files = parseMetainfo(
		torrent(
			multiFileInfo(
				[
					file(8, 'a'),
					link(['l'], ['a'], {length: 500}),
					{length: 7, path: ['empty-link'], attr: 'l'},
					{path: ['no-length'], attr: 'lx', 'symlink path': ['a']},
					file(8, 'b'),
				],
				{pieces: pieces(1)},
			),
		),
	).files;
	t.deepEqual(
		files.map(({path, length, offset}) => [path.join('/'), length, offset]),
		[
			['album/a', 8, 0],
			['album/l', 0, 8],
			['album/empty-link', 0, 8],
			['album/no-length', 0, 8],
			['album/b', 8, 8],
		],
	);
	t.deepEqual(files[3]?.symlinkTarget, ['a']);
	t.is(files[3]?.attributes, 'lx');
});

test('BEP 47: a symlink path component that is not a string refuses the torrent, as libtorrent refuses it', (t) => {
	t.throws(() => withLinks(link(['l'], ['a.txt', 5])), {
		instanceOf: MetainfoError,
		message: /info\.files\[2\]: symlink path component is not a string/,
	});
});

test('BEP 47 sha1: kept when it is 20 bytes, ignored otherwise', (t) => {
	const hash = sha1(Buffer.from('a.txt'));
	const files = withLinks(
		{...file(0, 'good'), sha1: hash},
		{...file(0, 'short'), sha1: hash.subarray(0, 19)},
		{...file(0, 'number'), sha1: 20},
	);
	t.deepEqual(files[2]?.sha1, hash);
	t.true(Buffer.isBuffer(files[2]?.sha1));
	t.is(files[3]?.sha1, undefined);
	t.is(files[4]?.sha1, undefined);
	t.false('sha1' in (files[3] ?? {}));
});

test('BEP 47 in a single-file info dictionary: attr and sha1 count; `l` does not (no folder for a target)', (t) => {
	const hash = sha1(Buffer.from('hello'));
	const executable = parseMetainfo(torrent(singleFileInfo({attr: 'x', sha1: hash}))).files;
	t.deepEqual(executable, [{path: ['hello.txt'], length: 40, offset: 0, attributes: 'x', sha1: hash}]);
	const link = parseMetainfo(torrent(singleFileInfo({attr: 'l', 'symlink path': ['x']}))).files;
	t.deepEqual(link, [{path: ['hello.txt'], length: 40, offset: 0, attributes: 'l'}]);
});

test('clean names keep no original: the safe name and path are the torrent’s own bytes', (t) => {
	const metainfo = parseMetainfo(
		torrent(
			multiFileInfo([file(10, 'a b.txt'), file(30, 'd\u00e9j\u00e0', '100%.bin')], {pieces: pieces(3)}),
		),
	);
	t.false('originalName' in metainfo);
	t.false(metainfo.files.some((entry) => 'originalPath' in entry));
});

test('a name or path made safe keeps the torrent’s own bytes, for web seeds (BEP 19)', (t) => {
	const invalid = Buffer.from([0x62, 0x61, 0x64, 0xff]);
	const metainfo = parseMetainfo(
		torrent(
			multiFileInfo(
				[
					{length: 8, path: [invalid, Buffer.from('ok')]},
					file(8, '.', 'a\\b', 'c'),
					file(8, 'A.txt'),
					file(8, 'a.txt'),
					file(8, 'plain'),
				],
				{name: 'al\u202ebum', pieces: pieces(3)},
			),
		),
	);
	const text = (parts: Buffer[] | undefined) => parts?.map((part) => part.toString('latin1'));
	t.is(metainfo.name, 'album');
	t.deepEqual(metainfo.originalName, Buffer.from('al\u202ebum'));
	t.deepEqual(
		metainfo.files.map((entry) => entry.path.join('/')),
		['album/bad_/ok', 'album/ab/c', 'album/A.txt', 'album/a.1.txt', 'album/plain'],
	);
	t.deepEqual(metainfo.files[0]?.originalPath, [invalid, Buffer.from('ok')]);
	t.deepEqual(text(metainfo.files[1]?.originalPath), ['.', 'a\\b', 'c'], 'a `.` left out on disk is kept');
	t.is(metainfo.files[2]?.originalPath, undefined);
	t.deepEqual(text(metainfo.files[3]?.originalPath), ['a.txt'], 'renamed beside a clash: the torrent’s name');
	t.false('originalPath' in (metainfo.files[4] ?? {}));
});

test('the original names are views of infoBytes, not copies; path.utf-8 and name.utf-8 win as on disk', (t) => {
	const metainfo = parseMetainfo(
		torrent(
			multiFileInfo([{length: 32, path: ['legacy'], 'path.utf-8': ['a/b']}], {
				name: 'legacy',
				'name.utf-8': 'x/y',
				pieces: pieces(2),
			}),
		),
	);
	const [original] = metainfo.files[0]?.originalPath ?? [];
	t.is(original?.toString(), 'a/b');
	t.is(metainfo.originalName?.toString(), 'x/y');
	// Same memory as infoBytes, and inside it (a copy could come from the same pool, elsewhere).
	const {infoBytes} = metainfo;
	const inside = (part: Buffer | undefined) =>
		part?.buffer === infoBytes.buffer &&
		part.byteOffset >= infoBytes.byteOffset &&
		part.byteOffset + part.length <= infoBytes.byteOffset + infoBytes.length;
	t.true(inside(original));
	t.true(inside(metainfo.originalName));
});

test('a single-file name that names nothing (`..`) keeps it as the original; the file has no originalPath', (t) => {
	const metainfo = parseMetainfo(torrent(singleFileInfo({name: '..'})));
	t.is(metainfo.name, metainfo.infoHash.toString('hex'));
	t.is(metainfo.originalName?.toString(), '..');
	t.deepEqual(metainfo.files, [{path: [metainfo.name], length: 40, offset: 0}]);
});
