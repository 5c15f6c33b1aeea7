/**
 * Interop with WebTorrent 3.0.21, the Node ecosystem's best-known client, both ways: it
 * downloads from a torrent-rx seeder, and torrent-rx downloads from it. Each finds the other
 * through a real opentracker, all on 127.0.0.1. WebTorrent runs with its defaults (`secure: 1`):
 * its outgoing connections start with an MSE/PE handshake (issue 16), and it takes either kind in.
 */
import test from 'ava';
import {album, assertSameFiles, downloadWithTorrentRx, startTorrentRxSeeder} from '../helpers/interop.js';
import {
	freePort,
	makePayload,
	tempDir,
	trackedTorrent,
	waitForDebugEvent,
	waitForTrackerListing,
} from '../helpers/swarm-fixture.js';
import {
	ensureWebTorrent,
	startWebTorrent,
	type WebTorrentLine,
	webTorrentVersion,
} from '../helpers/webtorrent.js';

const kib = 1024;

type Wire = Extract<WebTorrentLine, {type: 'wire'}>;

function wires(lines: readonly WebTorrentLine[]): Wire[] {
	return lines.filter((line): line is Wire => line.type === 'wire');
}

function describeWire(wire: Wire): string {
	return `${wire.mse ? 'MSE/PE handshake' : 'plain BitTorrent handshake'}, then ${wire.protection}`;
}

// Installs WebTorrent into .tmp/ on a machine that has not got it yet (an npm install: generous).
test.before(async (t) => {
	t.timeout(300_000);
	await ensureWebTorrent();
});

test(`WebTorrent ${webTorrentVersion} downloads what torrent-rx seeds, over its MSE/PE handshake`, async (t) => {
	t.timeout(90_000);
	const seeder = await startTorrentRxSeeder(t, album, 128 * kib);
	const downloadDir = await tempDir(t);
	const webtorrent = await startWebTorrent(t, {
		mode: 'download',
		torrentPath: seeder.torrentPath,
		dir: downloadDir,
	});
	t.is(webtorrent.infoHash, seeder.infoHash, 'WebTorrent and libtorrent agree on the info hash');

	await webtorrent.waitFor((line): line is {type: 'done'} => line.type === 'done', {timeoutMs: 45_000});
	await assertSameFiles(t, downloadDir, seeder.payload, 'WebTorrent');

	const toSeeder = wires(webtorrent.lines()).filter((wire) => wire.peer === `127.0.0.1:${seeder.port}`);
	t.true(toSeeder.length > 0, `WebTorrent's wires: ${JSON.stringify(webtorrent.lines())}`);
	t.true(
		toSeeder.every((wire) => wire.direction === 'outgoing' && wire.mse),
		`WebTorrent dialled torrent-rx, and its MSE/PE handshake was taken: ${JSON.stringify(toSeeder)}`,
	);
	const connected = await waitForDebugEvent(seeder.run, (event) => event.type === 'peer-connected', {
		timeoutMs: 5000,
	});
	t.regex(String(connected.peer), /^127\.0\.0\.1:\d+$/, 'torrent-rx reported the peer it served');
	t.is(connected.protection, toSeeder[0]?.protection, 'torrent-rx and WebTorrent agree on the protection');
	t.log(`WebTorrent's connection to torrent-rx: ${toSeeder.map(describeWire).join('; ')}`);
});

for (const flags of [[], ['--encryption', 'require']]) {
	const how = flags.length > 0 ? flags.join(' ') : 'its default encryption';
	test(`torrent-rx with ${how} downloads from a WebTorrent ${webTorrentVersion} seeder, over MSE/PE`, async (t) => {
		t.timeout(90_000);
		const seedDir = await tempDir(t);
		const downloadDir = await tempDir(t);
		const payload = await makePayload(seedDir, album);
		const {tracker, torrentPath, infoHash} = await trackedTorrent(t, payload, 128 * kib);
		const webtorrent = await startWebTorrent(t, {
			mode: 'seed',
			torrentPath,
			dir: seedDir,
			port: await freePort(),
		});
		t.is(webtorrent.infoHash, infoHash, 'WebTorrent and libtorrent agree on the info hash');
		// WebTorrent announces in the background once it is ready: torrent-rx finds it only once listed.
		await waitForTrackerListing(tracker.url, infoHash, webtorrent.port, {
			timeoutMs: 20_000,
			giveUp: () =>
				webtorrent.child.exitCode === null ? undefined : `WebTorrent exited: ${webtorrent.stderr()}`,
		});

		const {events, sources} = await downloadWithTorrentRx(t, {
			torrentPath,
			downloadDir,
			flags,
			timeoutMs: 45_000,
		});
		await assertSameFiles(t, downloadDir, payload, 'torrent-rx');

		t.deepEqual(sources, [`127.0.0.1:${webtorrent.port}`], 'every piece came from WebTorrent');
		// WebTorrent printed the wire at the handshake, before the first piece: this does not wait long.
		const fromUs = await webtorrent.waitFor(
			(line): line is Wire => line.type === 'wire' && line.direction === 'incoming',
			{timeoutMs: 5000},
		);
		t.log(`torrent-rx's connection to WebTorrent: ${describeWire(fromUs)}`);
		t.true(
			fromUs.mse,
			`torrent-rx's connection to WebTorrent began with an MSE/PE handshake: ${describeWire(fromUs)}`,
		);
		const connected = events.find(
			(event) => event.type === 'peer-connected' && event.peer === `127.0.0.1:${webtorrent.port}`,
		);
		t.is(connected?.protection, fromUs.protection, 'torrent-rx and WebTorrent agree on the protection');
		if (flags.length > 0) {
			t.is(connected?.protection, 'rc4', 'required, RC4 is what it got');
		}
	});
}
