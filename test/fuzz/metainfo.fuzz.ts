import {createHash} from 'node:crypto';
import test from 'ava';
import fc from 'fast-check';
import {encodeBencode, rawDictionaryValue} from '../../source/codec/bencode.js';
import {buildMetainfo} from '../../source/codec/build-metainfo.js';
import {type Metainfo, parseInfoDictionary, parseMetainfo} from '../../source/codec/metainfo.js';
import {MetainfoError} from '../../source/errors.js';
import {arrayBufferGrowth, expectOutcome, fuzzParameters, holds, invariant} from './harness.js';
import {bencodeNode, bytesNode, damaged, dictNode, encodeNode, intNode, listNode} from './mutate.js';
import {libtorrentTorrents, newTorrent, torrentBytes} from './seeds.js';

const runs = fuzzParameters(400, 2);

const sha1 = (data: Uint8Array) => createHash('sha1').update(data).digest();

/** What a parsed torrent promises the rest of torrent-rx (storage paths above all). */
function assertValidMetainfo(metainfo: Omit<Metainfo, 'announceTiers' | 'comment' | 'createdBy'>): void {
	invariant(
		metainfo.infoHash.equals(sha1(metainfo.infoBytes)),
		'the info hash is the SHA-1 of the info bytes',
	);
	invariant(
		Number.isSafeInteger(metainfo.pieceLength) && metainfo.pieceLength > 0,
		'a positive piece length',
	);
	invariant(
		metainfo.pieceHashes.digests.length === metainfo.pieceHashes.count * 20,
		'every piece hash is 20 bytes',
	);
	invariant(
		metainfo.pieceHashes.count === Math.ceil(metainfo.totalLength / metainfo.pieceLength),
		'one hash a piece',
	);
	invariant(metainfo.files.length > 0, 'at least one file');
	let offset = 0;
	for (const file of metainfo.files) {
		invariant(Number.isSafeInteger(file.length) && file.length >= 0, `file length ${file.length}`);
		invariant(file.offset === offset, 'files follow each other');
		offset += file.length;
		invariant(file.path[0] === metainfo.name, 'every path starts with the name');
		for (const component of file.path) {
			invariant(
				component !== '' && component !== '.' && component !== '..' && !/[/\\\0]/.test(component),
				`unsafe path component ${JSON.stringify(component)}`,
			);
		}
	}

	invariant(offset === metainfo.totalLength, 'the total is the sum of the files');
	invariant(metainfo.multiFile || metainfo.files.length === 1, 'a single-file torrent has one file');
}

function parse(input: Uint8Array): void {
	const outcome = expectOutcome(() => parseMetainfo(input), [MetainfoError]);
	if (outcome.ok) {
		assertValidMetainfo(outcome.value);
		invariant(
			outcome.value.announceTiers.every((tier) => tier.length > 0 && tier.every((url) => url.length > 0)),
			'no empty tier or tracker',
		);
	}
}

test('metainfo: torrents written by buildMetainfo parse back to what was written', (t) => {
	holds(
		t,
		fc.property(newTorrent, (torrent) => {
			const metainfo = parseMetainfo(buildMetainfo(torrent));
			assertValidMetainfo(metainfo);
			invariant(metainfo.name === torrent.name, `name ${metainfo.name} ≠ ${torrent.name}`);
			invariant(metainfo.pieceLength === torrent.pieceLength, 'piece length');
			invariant(metainfo.multiFile === torrent.multiFile, 'multiFile');
			invariant(metainfo.private === torrent.private, 'private');
			invariant(
				JSON.stringify(metainfo.files.map(({path, length}) => ({path, length}))) ===
					JSON.stringify(torrent.files.map(({path, length}) => ({path, length}))),
				'files',
			);
			invariant(metainfo.pieceHashes.digests.equals(torrent.pieceHashes.digests), 'piece hashes');
			invariant(
				JSON.stringify(metainfo.announceTiers.flat()) === JSON.stringify(torrent.trackers.filter(Boolean)),
				'trackers',
			);
		}),
		runs,
	);
});

test('metainfo: torrents made by libtorrent parse, with libtorrent’s info hash', (t) => {
	for (const {file, infoHash, bytes} of libtorrentTorrents) {
		const metainfo = parseMetainfo(bytes);
		t.notThrows(() => {
			assertValidMetainfo(metainfo);
		}, file);
		t.is(metainfo.infoHash.toString('hex'), infoHash, file);
	}

	t.deepEqual(
		parseMetainfo(libtorrentTorrents[0]?.bytes ?? Buffer.alloc(0)).files.map(({path}) => path.join('/')),
		['album/a.bin', 'album/empty.bin', 'album/sub/é ü.txt'],
	);
});

test('metainfo: mutated torrents (bytes and structure) parse to valid metainfo or throw a MetainfoError', (t) => {
	holds(
		t,
		fc.property(damaged(torrentBytes), (input) => {
			parse(input);
		}),
		runs,
	);
});

test('metainfo: random dictionaries under "info" parse to valid metainfo or throw a MetainfoError', (t) => {
	holds(
		t,
		fc.property(bencodeNode({maxDepth: 4}), fc.boolean(), (info, alone) => {
			const bytes = encodeNode(alone ? info : dictNode({announce: info, info}));
			parse(bytes);
		}),
		runs,
	);
});

test('metainfo: mutated info dictionaries (as BEP 9 delivers them) parse or throw a MetainfoError', (t) => {
	const infoDictionary = torrentBytes.map((bytes) => rawDictionaryValue(bytes, 'info') ?? bytes);
	holds(
		t,
		fc.property(damaged(infoDictionary), (input) => {
			const outcome = expectOutcome(() => parseInfoDictionary(input), [MetainfoError]);
			if (outcome.ok) {
				assertValidMetainfo(outcome.value);
			}
		}),
		runs,
	);
});

// Regression (see bencode.fuzz.ts): `__proto__` keys once gave dictionaries a prototype, and one
// that was a byte string passed `isBytes`, so parseMetainfo threw a TypeError from `bytesToText`
// (a `name` dictionary with a `__proto__` key, for one). Our own bencode decoder fixed it.
test('metainfo: mutated torrents with __proto__ keys parse or throw a MetainfoError', (t) => {
	holds(
		t,
		fc.property(damaged(torrentBytes, {withPrototypeKeys: true}), (input) => {
			parse(input);
		}),
		runs,
	);
});

test('metainfo: a name that is a dictionary with a __proto__ key is a MetainfoError', (t) => {
	const torrent = Buffer.from(
		'd4:infod6:lengthi1e4:named9:__proto__0:e12:piece lengthi1e6:pieces20:aaaaaaaaaaaaaaaaaaaaee',
		'latin1',
	);
	t.throws(() => parseMetainfo(torrent), {instanceOf: MetainfoError});
});

test('metainfo: names that are not UTF-8 become safe text (`_` a byte), and two that become the same are told apart', (t) => {
	const info = (files: Array<[number[], number]>) =>
		encodeNode(
			dictNode({
				info: dictNode({
					name: bytesNode(Buffer.from([0x61, 0xff])),
					'piece length': intNode(16_384),
					pieces: bytesNode(Buffer.alloc(20)),
					files: listNode(
						files.map(([name, length]) =>
							dictNode({length: intNode(length), path: listNode([bytesNode(Buffer.from(name))])}),
						),
					),
				}),
			}),
		);
	const metainfo = parseMetainfo(info([[[0xc0, 0xaf], 1]]));
	t.is(metainfo.name, 'a_');
	t.deepEqual(metainfo.files[0]?.path, ['a_', '__']);
	// 0xfe and 0xff both become `_`: one path twice, and the second is renamed as libtorrent does.
	t.deepEqual(
		parseMetainfo(
			info([
				[[0x62, 0xfe], 1],
				[[0x62, 0xff], 1],
			]),
		).files.map((file) => file.path),
		[
			['a_', 'b_'],
			['a_', 'b_.1'],
		],
	);
	// An overlong "/" (0xc0 0xaf) must not become a separator.
	t.notThrows(() => {
		assertValidMetainfo(metainfo);
	});
});

test('metainfo: the size has a limit: a torrent over 64 MiB is refused before it is decoded', (t) => {
	const huge = Buffer.alloc(64 * 1024 * 1024 + 1, 'd'.charCodeAt(0));
	const outcome = expectOutcome(() => parseMetainfo(huge), [MetainfoError], 200);
	t.false(outcome.ok);
	t.regex(String(outcome.ok ? '' : outcome.error), /bytes/);
});

test('metainfo: a 2 GiB "pieces" or name length prefix is a MetainfoError, allocating nothing', (t) => {
	for (const text of [
		'd4:infod6:lengthi1e4:name1:x12:piece lengthi1e6:pieces2147483648:',
		'd4:infod6:lengthi1e4:name4294967295:x',
	]) {
		let outcome: ReturnType<typeof expectOutcome> | undefined;
		const growth = arrayBufferGrowth(() => {
			outcome = expectOutcome(() => parseMetainfo(Buffer.from(text, 'latin1')), [MetainfoError], 100);
		});
		t.false(outcome?.ok);
		t.true(growth < 16 * 1024 * 1024, `ArrayBuffers grew by ${growth} bytes`);
	}
});

/** A one-file-in-a-folder torrent whose file sits `depth` folders deep. */
function deepPathTorrent(depth: number): Buffer {
	return encodeBencode({
		info: {
			name: 'x',
			'piece length': 16_384,
			pieces: Buffer.alloc(20),
			files: [{length: 1, path: Array.from({length: depth}, () => 'a')}],
		},
	});
}

test('metainfo: a path a few hundred folders deep still parses quickly', (t) => {
	const outcome = expectOutcome(() => parseMetainfo(deepPathTorrent(300)), [MetainfoError], 200);
	t.true(outcome.ok);
});

// Regression: parseFiles' "file and folder at once" check was once quadratic in a path's length,
// with no limit on components: 40,000 components (a 120 KB torrent) took 31 s. Paths now have at
// most 2048 components (no file system goes deeper), and the check is linear.
test('metainfo: a path deeper than any file system allows is refused quickly', (t) => {
	const outcome = expectOutcome(() => parseMetainfo(deepPathTorrent(12_000)), [MetainfoError], 200);
	t.false(outcome.ok, 'a 12,000-folder path was accepted');
});

// Regression: any safe-integer piece length was once accepted, and since a piece is buffered whole
// a 1 TiB piece ended the download with a RangeError from Buffer, not a MetainfoError. Piece
// lengths are now at most 512 MiB, as in libtorrent 2.0.
test('metainfo: a piece length no client can buffer (over 512 MiB) is a MetainfoError', (t) => {
	for (const pieceLength of [2 ** 30, 2 ** 40, 2 ** 52]) {
		const torrent = encodeBencode({
			info: {name: 'x', 'piece length': pieceLength, length: pieceLength, pieces: Buffer.alloc(20)},
		});
		t.throws(() => parseMetainfo(torrent), {instanceOf: MetainfoError}, `piece length ${pieceLength}`);
	}
});

// Regression: file lengths were once checked one by one but not their sum, so two files of 2^52
// bytes gave a totalLength of 2^53, past where offsets and piece arithmetic are exact. The total
// length must now be a safe integer.
test('metainfo: a torrent whose files add up past 2^53 bytes is a MetainfoError', (t) => {
	const torrent = encodeBencode({
		info: {
			name: 'x',
			'piece length': 2 ** 52,
			pieces: Buffer.alloc(40),
			files: [
				{length: 2 ** 52, path: ['a']},
				{length: 2 ** 52, path: ['b']},
			],
		},
	});
	t.throws(() => parseMetainfo(torrent), {instanceOf: MetainfoError});
});
