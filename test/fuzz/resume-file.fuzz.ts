import {mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import fc from 'fast-check';
import {firstValueFrom, lastValueFrom, toArray} from 'rxjs';
import {Bitfield} from '../../source/codec/bitfield.js';
import {StorageLayout} from '../../source/storage/layout.js';
import {resumeFile} from '../../source/storage/resume-file.js';
import {expectOutcomeAsync, fuzzParameters, holdsAsync, invariant} from './harness.js';
import {applyJsonMutation, type JsonValue, jsonMutation, mutatedBytes, mutatedText} from './mutate.js';

const runs = fuzzParameters(250, 10);

const infoHash = Buffer.alloc(20, 0xcd);
const layout = new StorageLayout(
	[
		{path: ['album', 'a.bin'], length: 40_000, offset: 0},
		{path: ['album', 'b.bin'], length: 30_003, offset: 40_000},
	],
	16_384,
);

/** A download folder with the payload and one saved resume file, whose text it returns. */
async function setup(t: ExecutionContext) {
	const folder = await mkdtemp(path.join(tmpdir(), 'torrent-rx-fuzz-resume-'));
	t.teardown(async () => rm(folder, {recursive: true, force: true}));
	await mkdir(path.join(folder, 'album'));
	await writeFile(path.join(folder, 'album', 'a.bin'), Buffer.alloc(40_000, 1));
	await writeFile(path.join(folder, 'album', 'b.bin'), Buffer.alloc(30_003, 2));
	const store = resumeFile(folder, infoHash, layout);
	const have = new Bitfield(layout.pieceCount);
	have.set(1);
	have.set(4);
	await firstValueFrom(store.save(have), {defaultValue: undefined});
	const file = path.join(folder, '.torrent-rx', `${infoHash.toString('hex')}.resume`);
	return {store, file, saved: await readFile(file, 'utf8')};
}

/**
 * Loads whatever the resume file now holds: one value (a Bitfield of the torrent's size, or
 * undefined to say "check the data"), never an error, and quickly.
 */
async function load(store: ReturnType<typeof resumeFile>, text: string): Promise<Bitfield | undefined> {
	const outcome = await expectOutcomeAsync(async () => lastValueFrom(store.load().pipe(toArray())), []);
	invariant(outcome.ok, 'loaded');
	invariant(outcome.value.length === 1, `load() emitted ${outcome.value.length} values`);
	const [bitfield] = outcome.value;
	if (bitfield) {
		invariant(bitfield.length === layout.pieceCount, 'a bitfield of the torrent’s pieces');
		const data = JSON.parse(text) as {have: string};
		invariant(bitfield.bytes.equals(Buffer.from(data.have, 'base64')), 'the pieces the file names');
	}

	return bitfield;
}

test('resume file: a saved resume file loads as the pieces it saved, whatever they are', async (t) => {
	const {store, file} = await setup(t);
	const have = fc
		.uint8Array({minLength: Math.ceil(layout.pieceCount / 8), maxLength: Math.ceil(layout.pieceCount / 8)})
		.map((bytes) => {
			// Only the torrent's pieces: the spare bits of the last byte stay clear.
			const bitfield = new Bitfield(layout.pieceCount);
			for (let index = 0; index < layout.pieceCount; index++) {
				if ((bytes[index >> 3] ?? 0) & (0x80 >> (index & 7))) {
					bitfield.set(index);
				}
			}

			return bitfield;
		});
	await holdsAsync(
		t,
		fc.asyncProperty(have, async (bitfield) => {
			await firstValueFrom(store.save(bitfield), {defaultValue: undefined});
			const loaded = await load(store, await readFile(file, 'utf8'));
			invariant(loaded?.bytes.equals(bitfield.bytes) === true, 'the saved pieces');
		}),
		runs,
	);
});

test('resume file: a damaged resume file (text, bytes or fields) loads as a valid bitfield or as none, never an error', async (t) => {
	const {store, file, saved} = await setup(t);
	const damagedText = fc.oneof(
		mutatedText(fc.constant(saved)),
		mutatedBytes(fc.constant(Buffer.from(saved))).map(({mutated}) => mutated.toString('utf8')),
		fc
			.array(jsonMutation, {minLength: 1, maxLength: 4})
			.map((mutations) =>
				JSON.stringify(mutations.reduce(applyJsonMutation, JSON.parse(saved) as JsonValue)),
			),
		fc.jsonValue().map((value) => JSON.stringify(value)),
		fc.constantFrom('', 'null', '[]', '{}', '"x"', `${'['.repeat(100_000)}`, '\uFEFF{}', '{"version":1'),
	);
	await holdsAsync(
		t,
		fc.asyncProperty(damagedText, async (text) => {
			await writeFile(file, text);
			await load(store, text);
		}),
		runs,
	);
});

test('resume file: the untouched resume file still loads: the damaged ones were refused for their damage', async (t) => {
	const {store, file, saved} = await setup(t);
	await writeFile(file, saved);
	const loaded = await load(store, saved);
	t.deepEqual([...(loaded?.bytes ?? [])], [0b0100_1000]);
});
