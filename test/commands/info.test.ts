import test from 'ava';
import {encodeBencode} from '../../source/codec/bencode.js';
import {parseMagnetLink} from '../../source/codec/magnet.js';
import {parseMetainfo} from '../../source/codec/metainfo.js';
import {
	formatMagnetSummary,
	formatTorrentSummary,
	infoCommand,
	summarizeMagnet,
	summarizeTorrent,
} from '../../source/commands/info.js';

/** A multi-file torrent of `files` (lengths and paths) in 16 KiB pieces, with `root` keys beside `info`. */
function torrent(
	files: Array<{path: string[]; length: number; attr?: string; 'symlink path'?: string[]; sha1?: Buffer}>,
	root: Record<string, unknown> = {},
) {
	const total = files.reduce((sum, file) => sum + file.length, 0);
	return parseMetainfo(
		encodeBencode({
			announce: 'http://t.example/announce',
			...root,
			info: {
				name: 'set',
				'piece length': 16_384,
				pieces: Buffer.alloc(20 * Math.ceil(total / 16_384)),
				files: files.map(({attr, ...file}) => ({...file, ...(attr ? {attr} : {})})),
			},
		}),
	);
}

test('pad files, by attr or by the older name, are left out and counted; the rest numbered from 1', (t) => {
	const summary = summarizeTorrent(
		torrent([
			{path: ['a.mkv'], length: 10_000},
			{path: ['.pad', '6384'], length: 6384, attr: 'p'},
			{path: ['b.srt'], length: 500, attr: 'x'},
			{path: ['_____padding_file_0_'], length: 15_884},
			{path: ['c.nfo'], length: 1},
		]),
	);
	t.deepEqual(summary.files, [
		{index: 1, size: 10_000, path: 'set/a.mkv'},
		{index: 2, size: 500, path: 'set/b.srt'},
		{index: 3, size: 1, path: 'set/c.nfo'},
	]);
	t.is(summary.padFiles, 2);
	t.is(summary.totalSize, 10_501, 'the user’s bytes only');
	t.is(summary.pieceCount, 3);
});

test('url-list as one string or a list, and creation date as ISO 8601; a v1 torrent has no v2 hash', (t) => {
	const one = summarizeTorrent(
		torrent([{path: ['a'], length: 1}], {'url-list': 'http://w.example/a', 'creation date': 1_700_000_000}),
	);
	const list = summarizeTorrent(
		torrent([{path: ['a'], length: 1}], {'url-list': ['http://w1/', 'http://w2/']}),
	);
	t.deepEqual(one.webSeeds, ['http://w.example/a']);
	t.is(one.creationDate, '2023-11-14T22:13:20.000Z');
	t.deepEqual(list.webSeeds, ['http://w1/', 'http://w2/']);
	t.is(list.infoHashV2, undefined);
});

test('a stranger’s text reaches the terminal printable: names, paths, trackers and comment', (t) => {
	const text = formatTorrentSummary(
		summarizeTorrent(
			torrent([{path: ['evil\u001B]0;pwned\u0007.txt'], length: 3}], {
				comment: 'see \u202Egnp.exe',
				'announce-list': [['http://t\u009B31m.example/']],
			}),
		),
	);
	// biome-ignore lint/suspicious/noControlCharactersInRegex: the controls are what must not be there.
	t.false(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F\u202A-\u202E]/.test(text), JSON.stringify(text));
	// Controls in a file's name are already `_` on the way in (path-names.ts).
	t.regex(text, /\n {2}1 {2}3 {2}set\/evil_]0;pwned_\.txt\n/);
	t.regex(text, /\nComment: see {2}gnp\.exe\n/);
});

test('BEP 47: a link shows its target (`path -> target`), in JSON as `symlink`; a file’s sha1 in hex', (t) => {
	const hash = Buffer.alloc(20, 0xab);
	const summary = summarizeTorrent(
		torrent([
			{path: ['a.txt'], length: 3, sha1: hash},
			{path: ['sub', 'l'], length: 0, attr: 'l', 'symlink path': ['a.txt']},
			{path: ['out'], length: 0, attr: 'l', 'symlink path': ['..', '..', 'etc', 'passwd']},
			{path: ['empty-link'], length: 0, attr: 'l'},
		]),
	);
	t.deepEqual(summary.files, [
		{index: 1, size: 3, path: 'set/a.txt', sha1: 'ab'.repeat(20)},
		{index: 2, size: 0, path: 'set/sub/l', symlink: 'set/a.txt'},
		{index: 3, size: 0, path: 'set/out', symlink: 'set/../../etc/passwd'},
		{index: 4, size: 0, path: 'set/empty-link'},
	]);
	const text = formatTorrentSummary(summary);
	t.regex(text, /\n {2}2 {2}0 {2}set\/sub\/l -> set\/a\.txt\n/);
	t.regex(text, /\n {2}3 {2}0 {2}set\/out -> set\/\.\.\/\.\.\/etc\/passwd\n/);
	t.regex(text, /\n {2}4 {2}0 {2}set\/empty-link\n/);
});

test('a magnet link says only what it holds: hash, name, trackers, peers, web seeds', (t) => {
	const link = parseMagnetLink(
		'magnet:?xt=urn:btih:0123456789abcdef0123456789abcdef01234567&dn=Some+Name&tr=udp%3A%2F%2Ft.example%3A80&x.pe=10.0.0.1:6881&ws=http%3A%2F%2Fw.example%2Fpub%2F',
	);
	const summary = summarizeMagnet(link);
	t.deepEqual(summary, {
		infoHash: '0123456789abcdef0123456789abcdef01234567',
		name: 'Some Name',
		trackers: ['udp://t.example:80'],
		peers: ['10.0.0.1:6881'],
		webSeeds: ['http://w.example/pub/'],
	});
	t.is(
		formatMagnetSummary(summary),
		[
			'Name: Some Name',
			'Info hash: 0123456789abcdef0123456789abcdef01234567',
			'Trackers:',
			'  udp://t.example:80',
			'Peers:',
			'  10.0.0.1:6881',
			'Web seeds:',
			'  http://w.example/pub/',
			'(a magnet link: files and sizes come with its metadata, from peers)',
			'',
		].join('\n'),
	);
});

test('a magnet link without ws: no web seeds section; --json has an empty list, and a stranger’s ws is printable', async (t) => {
	const hash = '0123456789abcdef0123456789abcdef01234567';
	const plain = await infoCommand(`magnet:?xt=urn:btih:${hash}`, {json: false});
	t.false(plain.includes('Web seeds'));
	t.deepEqual(JSON.parse(await infoCommand(`magnet:?xt=urn:btih:${hash}`, {json: true})).webSeeds, []);
	const evil = `magnet:?xt=urn:btih:${hash}&ws=${encodeURIComponent('http://w.example/\u001B]0;pwned\u0007')}`;
	const text = await infoCommand(evil, {json: false});
	t.regex(text, /\nWeb seeds:\n {2}http:\/\/w\.example\/.*pwned/);
	// biome-ignore lint/suspicious/noControlCharactersInRegex: the controls are what must not be there.
	t.false(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/.test(text), JSON.stringify(text));
	const json = await infoCommand(evil, {json: true});
	t.is(JSON.parse(json).webSeeds.length, 1);
	// biome-ignore lint/suspicious/noControlCharactersInRegex: the controls are what must not be there.
	t.false(/[\u0000-\u0008\u000B-\u001F\u007F-\u009F]/.test(json), json);
});
