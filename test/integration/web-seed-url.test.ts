/**
 * BEP 19 URLs (codec/web-seed-url.ts) against a real web server: nginx serving files stored under
 * the torrent's own names, odd ones included (spaces, `%`, `#`, `?`, `+`, non-ASCII, bytes that
 * are not UTF-8, names this disk would get made safe), must answer each URL with that file.
 */
import {mkdir, writeFile} from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import {encodeBencode} from '../../source/codec/bencode.js';
import {parseMetainfo} from '../../source/codec/metainfo.js';
import {webSeedFileUrl} from '../../source/codec/web-seed-url.js';
import {startNginx} from '../helpers/nginx.js';
import {pseudoRandomBytes, tempDir} from '../helpers/swarm-fixture.js';

/** Path components as the torrent holds them: text as UTF-8, or raw bytes. */
const paths: Buffer[][] = [
	['a b.bin'],
	['100% #1?.bin'],
	['plus+tilde~(x)!.bin'],
	["semi;colon&amp=,$'@.bin"],
	['caf\u00e9', '\u00fc\u00f1\u00ee.bin'],
	[Buffer.from([0x62, 0x61, 0x64, 0xff, 0xfe]), Buffer.from('x.bin')],
	['back\\slash', 'bidi\u202emark.bin'],
].map((components) => components.map((part) => (Buffer.isBuffer(part) ? part : Buffer.from(part))));

/** Writes `content` at `root` / `components`, each a raw byte name (Linux takes any bytes but `/` and NUL). */
async function writeRaw(root: string, components: Buffer[], content: Buffer): Promise<void> {
	let folder = Buffer.from(root);
	for (const part of components.slice(0, -1)) {
		folder = Buffer.concat([folder, Buffer.from('/'), part]);
		await mkdir(folder, {recursive: true});
	}

	await writeFile(Buffer.concat([folder, Buffer.from('/'), components.at(-1) ?? Buffer.alloc(0)]), content);
}

test('nginx serves every file of a multi-file torrent at the URL BEP 19 gives, odd names and all', async (t) => {
	t.timeout(60_000);
	const root = await tempDir(t);
	const name = Buffer.from('my set \u00e9');
	const contents = paths.map((parts) => pseudoRandomBytes(100 + parts.length, parts.join('/')));
	for (const [index, parts] of paths.entries()) {
		await writeRaw(path.join(root, 'pub'), [name, ...parts], contents[index] ?? Buffer.alloc(0));
	}

	const metainfo = parseMetainfo(
		encodeBencode({
			info: {
				name,
				files: paths.map((parts, index) => ({length: contents[index]?.length ?? 0, path: parts})),
				'piece length': 16_384,
				pieces: Buffer.alloc(20),
			},
		}),
	);
	t.true(
		metainfo.files.some((file) => file.originalPath),
		'some names were made safe on disk',
	);
	const nginx = await startNginx(t, {root});
	for (const seed of [`${nginx.url}pub/`, `${nginx.url}pub`, `${nginx.url}pub/?token=abc`]) {
		for (const [index, file] of metainfo.files.entries()) {
			const url = webSeedFileUrl(seed, metainfo, file);
			const response = await fetch(url);
			t.is(response.status, 200, `${url} (on disk ${file.path.join('/')})`);
			t.true(Buffer.from(await response.arrayBuffer()).equals(contents[index] ?? Buffer.alloc(0)), url);
		}
	}

	const log = await nginx.accessLog(3 * paths.length);
	t.is(log.length, 3 * paths.length);
	t.true(
		log.every((line) => / 200 \d+$/.test(line)),
		log.join('\n'),
	);
});

test('nginx serves a single-file torrent at the folder URL plus its name, and at the URL of the file', async (t) => {
	t.timeout(60_000);
	const root = await tempDir(t);
	const name = Buffer.from([0x66, 0xff, 0x20, 0x23, 0x2e, 0x69, 0x73, 0x6f]);
	const content = pseudoRandomBytes(5000, 'single');
	await writeRaw(root, [Buffer.from('files'), name], content);
	await writeFile(path.join(root, 'other-name.iso'), content);
	const metainfo = parseMetainfo(
		encodeBencode({info: {name, length: content.length, 'piece length': 16_384, pieces: Buffer.alloc(20)}}),
	);
	t.is(metainfo.name, 'f_ #.iso', 'made safe on disk');
	const nginx = await startNginx(t, {root});
	const [file] = metainfo.files;
	if (!file) {
		t.fail('no file');
		return;
	}

	for (const seed of [`${nginx.url}files/`, `${nginx.url}other-name.iso`, `${nginx.url}other-name.iso?x=1`]) {
		const url = webSeedFileUrl(seed, metainfo, file);
		const response = await fetch(url, {headers: {Range: 'bytes=100-199'}});
		t.is(response.status, 206, url);
		t.true(Buffer.from(await response.arrayBuffer()).equals(content.subarray(100, 200)), url);
	}
});
