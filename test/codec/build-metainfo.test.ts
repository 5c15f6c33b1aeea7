import test from 'ava';
import {type BencodeDictionary, decodeBencode} from '../../source/codec/bencode.js';
import {buildMetainfo, type NewTorrent} from '../../source/codec/build-metainfo.js';
import {parseMetainfo} from '../../source/codec/metainfo.js';
import {PieceHashes} from '../../source/codec/piece-hashes.js';

const newTorrent = (extra: Partial<NewTorrent> = {}): NewTorrent => ({
	name: 'album',
	files: [
		{path: ['album', 'a.flac'], length: 10},
		{path: ['album', 'b.flac'], length: 20},
	],
	multiFile: true,
	pieceLength: 16_384,
	pieceHashes: PieceHashes.of([Buffer.alloc(20, 1)]),
	trackers: ['http://t.example/announce'],
	private: false,
	createdBy: 'torrent-rx test',
	creationDate: 1_700_000_000,
	...extra,
});

const root = (bytes: Buffer) => decodeBencode(bytes) as BencodeDictionary;
const text = (value: unknown) => Buffer.from(value as Uint8Array).toString();

test('BEP 19: one web seed is written as a string, as libtorrent and mktorrent write it', (t) => {
	const bytes = buildMetainfo(newTorrent({webSeeds: ['http://w.example/pub/']}));
	t.is(text(root(bytes)['url-list']), 'http://w.example/pub/');
	t.true(bytes.includes('8:url-list21:http://w.example/pub/'));
	t.deepEqual(parseMetainfo(bytes).webSeeds, ['http://w.example/pub/']);
});

test('BEP 19: several web seeds are a list, in their order', (t) => {
	const seeds = ['https://b.example/x/', 'http://a.example/'];
	const bytes = buildMetainfo(newTorrent({webSeeds: seeds}));
	const list = root(bytes)['url-list'];
	t.true(Array.isArray(list));
	t.deepEqual((list as unknown[]).map(text), seeds);
	t.deepEqual(parseMetainfo(bytes).webSeeds, seeds);
});

test('no web seeds (none given, or an empty list): no url-list at all', (t) => {
	t.false('url-list' in root(buildMetainfo(newTorrent())));
	t.false('url-list' in root(buildMetainfo(newTorrent({webSeeds: []}))));
});

test('web seeds live outside info: the info hash is the same with them or without', (t) => {
	const without = parseMetainfo(buildMetainfo(newTorrent()));
	const withSeeds = parseMetainfo(
		buildMetainfo(newTorrent({webSeeds: ['http://w.example/', 'http://v.example/']})),
	);
	t.deepEqual(withSeeds.infoHash, without.infoHash);
	t.deepEqual(withSeeds.files, without.files);
});
