import test from 'ava';
import fc from 'fast-check';
import {decodeLsdAnnounce, encodeLsdAnnounce, type LsdAnnounce} from '../../source/codec/lsd.js';
import {type MagnetLink, parseMagnetLink} from '../../source/codec/magnet.js';
import {MetainfoError} from '../../source/errors.js';
import {expectOutcome, fuzzParameters, holds, invariant} from './harness.js';
import {hostileText, mutatedBytes, mutatedText} from './mutate.js';
import {infoHashHex, magnetLink} from './seeds.js';

const runs = fuzzParameters(800);

// ---------------------------------------------------------------------------------------------
// Magnet links (BEP 9)

function assertMagnetLink(magnet: MagnetLink): void {
	invariant(Buffer.isBuffer(magnet.infoHash) && magnet.infoHash.length === 20, 'a 20-byte info hash');
	invariant(new Set(magnet.trackers).size === magnet.trackers.length, 'each tracker once');
	for (const peer of magnet.peers) {
		invariant(
			peer.host.length > 0 && Number.isInteger(peer.port) && peer.port > 0 && peer.port < 65_536,
			'peer',
		);
	}

	invariant(magnet.displayName === undefined || magnet.displayName.length > 0, 'no empty display name');
	invariant(
		magnet.webSeeds.length <= 20 && new Set(magnet.webSeeds).size === magnet.webSeeds.length,
		'web seeds',
	);
	for (const url of magnet.webSeeds) {
		invariant(url.length <= 2048 && /^https?:$/.test(new URL(url).protocol), `web seed ${url}`);
	}
}

function parseMagnet(link: string): void {
	const outcome = expectOutcome(() => parseMagnetLink(link), [MetainfoError]);
	if (outcome.ok) {
		assertMagnetLink(outcome.value);
	}
}

test('magnet: valid links give their info hash, name, trackers and peers', (t) => {
	holds(
		t,
		fc.property(magnetLink, (parts) => {
			const magnet = parseMagnetLink(parts.link);
			assertMagnetLink(magnet);
			invariant(magnet.infoHash.equals(parts.infoHash), `info hash from ${parts.topic}`);
			invariant(magnet.displayName === parts.displayName, 'display name');
			invariant(JSON.stringify(magnet.trackers) === JSON.stringify(parts.trackers), 'trackers');
			invariant(JSON.stringify(magnet.peers) === JSON.stringify(parts.peers), 'peers');
		}),
		runs,
	);
});

test('magnet: random and mutated text (broken escapes, lone surrogates) parses or throws a MetainfoError', (t) => {
	const randomText = fc.oneof(
		fc.string({unit: 'binary', maxLength: 80}),
		fc
			.array(fc.oneof(fc.constantFrom(...hostileText), fc.string({maxLength: 4})), {maxLength: 20})
			.map((parts) => `magnet:?${parts.join('')}`),
	);
	holds(
		t,
		fc.property(fc.oneof(randomText, mutatedText(magnetLink.map(({link}) => link))), (link) => {
			parseMagnet(link);
		}),
		runs,
	);
});

test('magnet: a long link (1 MB of parameters) parses quickly', (t) => {
	const link = `magnet:?xt=urn:btih:${'a'.repeat(40)}${'&tr=http://t.example/a&x.pe=[::1]:1&ws=ftp://w.example/&dn=%FF%'.repeat(25_000)}`;
	const outcome = expectOutcome(() => parseMagnetLink(link), [MetainfoError], 2000);
	t.true(outcome.ok);
});

// ---------------------------------------------------------------------------------------------
// Local service discovery (BEP 14)

const lsdAnnounce: fc.Arbitrary<LsdAnnounce> = fc.record(
	{
		port: fc.integer({min: 1, max: 65_535}),
		infoHashes: fc.array(infoHashHex, {minLength: 1, maxLength: 4}),
		cookie: fc.stringMatching(/^[!-~]{1,20}$/),
	},
	{requiredKeys: ['port', 'infoHashes']},
);

function assertLsdAnnounce(announce: LsdAnnounce | undefined): void {
	if (announce === undefined) {
		return;
	}

	invariant(Number.isInteger(announce.port) && announce.port > 0 && announce.port < 65_536, 'port');
	invariant(announce.infoHashes.length > 0, 'an info hash');
	invariant(
		announce.infoHashes.every((infoHash) => /^[0-9a-f]{40}$/.test(infoHash)),
		'40 lower-case hex digits each',
	);
}

test('LSD: valid announces decode to what was encoded', (t) => {
	holds(
		t,
		fc.property(lsdAnnounce, (announce) => {
			const decoded = decodeLsdAnnounce(encodeLsdAnnounce(announce));
			invariant(JSON.stringify(decoded) === JSON.stringify(announce), JSON.stringify(decoded));
		}),
		runs,
	);
});

test('LSD: random and mutated packets decode to an announce or to nothing, never an error', (t) => {
	holds(
		t,
		fc.property(
			fc.oneof(
				fc.uint8Array({maxLength: 100}).map((bytes) => Buffer.from(bytes)),
				mutatedBytes(lsdAnnounce.map(encodeLsdAnnounce)).map(({mutated}) => mutated),
				mutatedText(lsdAnnounce.map((announce) => encodeLsdAnnounce(announce).toString('latin1'))).map(
					(text) => Buffer.from(text, 'utf8'),
				),
			),
			(packet) => {
				const outcome = expectOutcome(() => decodeLsdAnnounce(packet), []);
				invariant(outcome.ok, 'decoded');
				assertLsdAnnounce(outcome.value);
			},
		),
		runs,
	);
});

test('LSD: packets have a size limit, and the largest allowed ones decode quickly', (t) => {
	const header = 'BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\nInfohash: ';
	t.is(decodeLsdAnnounce(Buffer.from(`${header}${'a'.repeat(40)}\r\n${' '.repeat(1400)}`)), undefined);
	// Whitespace is what the header pattern's lazy value and trailing spaces backtrack over.
	for (const filler of [' ', 'a ', ':', '\r']) {
		const packet = Buffer.from(`${header}${'a'.repeat(40)}\r\nx:${filler.repeat(1400)}`).subarray(0, 1400);
		t.true(expectOutcome(() => decodeLsdAnnounce(packet), [], 100).ok, JSON.stringify(filler));
	}
});
