/**
 * MSE/PE with aria2c set as "require encryption" clients are (`--bt-require-crypto=true
 * --bt-min-crypto-level=arc4`: an MSE/PE handshake and RC4 after it, plaintext peers dropped),
 * both ways: aria2c downloads from a torrent-rx seeder (incoming MSE/PE), and torrent-rx downloads
 * from an aria2c seeder (outgoing MSE/PE, `--encryption`). Real opentracker, all on 127.0.0.1.
 */
import {readFile} from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import {catchError, firstValueFrom, last, of, scan, switchMap, takeWhile, timeout} from 'rxjs';
import {encodeHandshake, ourReservedBytes} from '../../source/codec/handshake.js';
import {connectTcp} from '../../source/peer/socket.js';
import {
	album,
	assertSameFiles,
	describeRun,
	downloadWithTorrentRx,
	startTorrentRxSeeder,
} from '../helpers/interop.js';
import {
	debugEvents,
	makePayload,
	runAria2c,
	startAria2Seeder,
	tempDir,
	trackedTorrent,
} from '../helpers/swarm-fixture.js';

const kib = 1024;

/**
 * The CUIDs (aria2c's connection numbers) of the connections it made to 127.0.0.1:`port`, from
 * its debug log.
 */
function connectionsTo(log: string, port: number): string[] {
	const pattern = new RegExp(`CUID#(\\d+) - Connecting to 127\\.0\\.0\\.1:${port}$`, 'gm');
	return [...log.matchAll(pattern)].map((match) => match[1] ?? '');
}

test('aria2c requiring RC4 downloads what torrent-rx seeds: MSE/PE taken, RC4 chosen', async (t) => {
	t.timeout(60_000);
	const seeder = await startTorrentRxSeeder(t, album, 128 * kib);
	const downloadDir = await tempDir(t);
	const logFile = path.join(await tempDir(t), 'aria2c.log');
	const aria2 = await runAria2c(t, seeder.torrentPath, downloadDir, {
		timeoutMs: 30_000,
		encryption: 'arc4',
		logFile,
	});
	const log = await readFile(logFile, 'utf8');
	const context = `aria2c: ${describeRun(aria2)}\nlog:\n${log.slice(-4000)}`;
	t.false(aria2.timedOut, context);
	t.is(aria2.code, 0, context);
	await assertSameFiles(t, downloadDir, seeder.payload, 'aria2c');

	// aria2c's own account of the handshake: torrent-rx's crypto_select was RC4 ("ARC4").
	const cuids = connectionsTo(log, seeder.port);
	t.true(cuids.length > 0, `aria2c dialled torrent-rx on ${seeder.port}`);
	t.true(
		cuids.some((cuid) => log.includes(`CUID#${cuid} - peer prefers ARC4`)),
		`a connection to torrent-rx chose RC4: ${log
			.split('\n')
			.filter((line) => cuids.some((cuid) => line.includes(`CUID#${cuid} - `)) && line.includes('MSE'))
			.join('\n')}`,
	);
	const served = debugEvents(seeder.run.stderr()).filter((event) => event.type === 'peer-connected');
	t.true(
		served.length > 0 && served.every((event) => event.protection === 'rc4'),
		`torrent-rx reported the peer it served, in RC4: ${JSON.stringify(served)}`,
	);
});

/** A payload seeded by aria2c requiring RC4, behind its own opentracker. */
async function aria2Arc4Seeder(t: Parameters<typeof tempDir>[0]) {
	const seedDir = await tempDir(t);
	const payload = await makePayload(seedDir, album);
	const {tracker, torrentPath, infoHash} = await trackedTorrent(t, payload, 128 * kib);
	const seeder = await startAria2Seeder(
		t,
		{torrentPath, saveDir: seedDir, trackerUrl: tracker.url, infoHash},
		{encryption: 'arc4'},
	);
	return {payload, torrentPath, infoHash, seeder};
}

test('the aria2c seeder requiring RC4 hangs up on a plaintext handshake: the tests below prove encryption', async (t) => {
	t.timeout(60_000);
	const {infoHash, seeder} = await aria2Arc4Seeder(t);
	const received$ = connectTcp({connectTimeoutMs: 5000})({host: '127.0.0.1', port: seeder.port}).pipe(
		switchMap((wire) => {
			wire.send(
				encodeHandshake({
					reserved: ourReservedBytes(),
					infoHash: Buffer.from(infoHash, 'hex'),
					peerId: Buffer.from('-RX0010-aria2plain01'),
				}),
			);
			// What aria2c sends until it closes the connection, or until it is as long as a handshake:
			// a seeder taking plaintext answers with its own, and keeps the connection open.
			return wire.incoming$.pipe(
				scan((bytes, chunk) => Buffer.concat([bytes, chunk]), Buffer.alloc(0)),
				takeWhile((bytes) => bytes.length < 68, true),
				last(undefined, Buffer.alloc(0)),
				catchError(() => of(Buffer.alloc(0))),
			);
		}),
		timeout(20_000),
	);
	const answer = await firstValueFrom(received$);
	t.is(answer.length, 0, `aria2c answered ${JSON.stringify(answer.subarray(0, 20).toString('latin1'))}…`);
});

for (const flags of [['--encryption', 'require'], []]) {
	const how = flags.length > 0 ? flags.join(' ') : 'the default encryption (prefer)';
	test(`torrent-rx with ${how} downloads from an aria2c seeder requiring RC4`, async (t) => {
		t.timeout(60_000);
		const {payload, torrentPath, seeder} = await aria2Arc4Seeder(t);
		const downloadDir = await tempDir(t);
		const {events, sources} = await downloadWithTorrentRx(t, {
			torrentPath,
			downloadDir,
			flags,
			timeoutMs: 30_000,
		});
		await assertSameFiles(t, downloadDir, payload, 'torrent-rx');
		t.deepEqual(sources, [`127.0.0.1:${seeder.port}`], 'every piece came from the aria2c seeder');
		const connected = events.filter(
			(event) => event.type === 'peer-connected' && event.peer === `127.0.0.1:${seeder.port}`,
		);
		t.true(
			connected.length > 0 && connected.every((event) => event.protection === 'rc4'),
			JSON.stringify(connected),
		);
	});
}
