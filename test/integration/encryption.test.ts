/**
 * `--encryption` as a user meets it: torrent-rx downloads from python3-libtorrent seeders set
 * three ways (requiring RC4, the default, never encrypting), found through a real opentracker on
 * 127.0.0.1, and says in its `peer-connected` events how each connection went.
 */
import {readFile} from 'node:fs/promises';
import test, {type ExecutionContext} from 'ava';
import {
	debugEvents,
	freePort,
	makePayload,
	runTorrentRx,
	spawnTorrentRx,
	startLibtorrentSeeder,
	tempDir,
	trackedTorrent,
	waitForDebugEvent,
} from '../helpers/swarm-fixture.js';

const mib = 1024 * 1024;

/** A libtorrent seeder with `encryption` (default: libtorrent's own), and torrent-rx run with `args` against it. */
async function downloadFrom(
	t: ExecutionContext,
	seederEncryption: 'forced' | 'disabled' | undefined,
	args: string[],
) {
	t.timeout(120_000);
	const seedDir = await tempDir(t);
	const outputDir = await tempDir(t);
	const payload = await makePayload(seedDir, {name: 'secret.bin', length: 3 * mib + 77});
	const {torrentPath} = await trackedTorrent(t, payload, 256 * 1024);
	await startLibtorrentSeeder(
		t,
		torrentPath,
		seedDir,
		seederEncryption ? {encryption: seederEncryption} : {},
	);
	const run = await runTorrentRx(
		t,
		[
			torrentPath,
			'--output',
			outputDir,
			'--debug',
			'--no-metrics',
			'--port',
			String(await freePort()),
			...args,
		],
		{timeoutMs: 60_000},
	);
	const context = `exit ${run.code ?? run.signal}${run.timedOut ? ' (timed out)' : ''}\nstderr:\n${run.stderr.slice(-4000)}`;
	t.is(run.code, 0, context);
	const written = await readFile(`${outputDir}/secret.bin`);
	t.true(written.equals(payload.files[0]?.data ?? Buffer.alloc(0)), 'byte-identical to the seeder’s');
	const events = debugEvents(run.stderr);
	const connected = events.filter((event) => event.type === 'peer-connected');
	return {protections: [...new Set(connected.map((event) => event.protection))], events, context};
}

/** A libtorrent seeder that never encrypts, and torrent-rx with `args` until it has tried `dials` times. */
async function dialsToPlaintextSeeder(t: ExecutionContext, args: string[], dials: number) {
	t.timeout(120_000);
	const seedDir = await tempDir(t);
	const payload = await makePayload(seedDir, {name: 'clear.bin', length: 64 * 1024});
	const {torrentPath} = await trackedTorrent(t, payload, 16 * 1024);
	await startLibtorrentSeeder(t, torrentPath, seedDir, {encryption: 'disabled'});
	const ownArgs = [
		torrentPath,
		'--output',
		await tempDir(t),
		'--debug',
		'--no-metrics',
		'--port',
		String(await freePort()),
	];
	const run = spawnTorrentRx(t, [...ownArgs, ...args], {timeoutMs: 60_000});
	await waitForDebugEvent(
		run,
		(_event, events) => events.filter((event) => event.type === 'peer-disconnected').length >= dials,
		{timeoutMs: 50_000},
	);
	run.child.kill('SIGKILL');
	return debugEvents(run.stderr());
}

test('by default torrent-rx reaches a libtorrent seeder that requires encryption, and the connection is RC4', async (t) => {
	const {protections, context} = await downloadFrom(t, 'forced', []);
	t.deepEqual(protections, ['rc4'], context);
});

test('by default, offered RC4 and plaintext, libtorrent’s default seeder picks plaintext: obfuscated, not encrypted', async (t) => {
	const {protections, context} = await downloadFrom(t, undefined, []);
	t.deepEqual(protections, ['plaintext'], context);
});

test('--encryption require: RC4 even with a seeder that would take plaintext', async (t) => {
	const {protections, context} = await downloadFrom(t, undefined, ['--encryption', 'require']);
	t.deepEqual(protections, ['rc4'], context);
});

test('by default a seeder that never encrypts hangs up on MSE/PE, and torrent-rx dials it again in plaintext', async (t) => {
	const {protections, events, context} = await downloadFrom(t, 'disabled', []);
	t.deepEqual(protections, ['plaintext'], context);
	const untilConnected = events.slice(
		0,
		events.findIndex((event) => event.type === 'peer-connected'),
	);
	t.deepEqual(
		untilConnected.filter((event) => event.type.startsWith('peer-')).map((event) => event.type),
		['peer-connecting'],
		'the plaintext retry is part of the same dial: no disconnect and redial in between',
	);
});

test('--encryption require never falls back: the seeder that never encrypts is dropped, each time', async (t) => {
	const events = await dialsToPlaintextSeeder(t, ['--encryption', 'require'], 2);
	t.false(events.some((event) => event.type === 'peer-connected'));
	const reasons = events.filter((event) => event.type === 'peer-disconnected').map((event) => event.reason);
	t.true(
		reasons.every((reason) =>
			/hung up on the MSE handshake|closed during the MSE handshake/.test(String(reason)),
		),
		reasons.join('\n'),
	);
});

test('--encryption off: plaintext with libtorrent’s default seeder', async (t) => {
	const {protections, context} = await downloadFrom(t, undefined, ['--encryption', 'off']);
	t.deepEqual(protections, ['plaintext'], context);
});
