/**
 * Hostile peers against the real CLI, downloading: torrent-rx finds an honest libtorrent seeder
 * and a crowd of scripted hostile peers (test/helpers/hostile-peer.ts) through opentracker, on
 * real sockets on 127.0.0.1. It must drop each hostile peer with a reason, finish the download
 * from the honest one byte-identical, never leave unverified bytes on disk, and keep its memory
 * bounded. The honest seeder sits behind a gate that opens once the hostile peers have had
 * their turn: libtorrent on loopback would otherwise finish before they are asked for anything.
 */
import test, {type ExecutionContext} from 'ava';
import {dialHostile, type HostileServer, hostile} from '../helpers/hostile-peer.js';
import {
	type DebugEvent,
	debugEvents,
	freePort,
	killProcess,
	type RunningTorrentRx,
	spawnTorrentRx,
	tempDir,
	waitForDebugEvent,
} from '../helpers/swarm-fixture.js';
import {
	announceHostile,
	assertOnlyVerifiedPieces,
	assertSameFiles,
	gatedHonestSeeder,
	type HostileSwarm,
	hostileTorrent,
	kib,
	memoryOf,
	mib,
	reasonsFor,
	runTimeoutMs,
	sleep,
	testTimeoutMs,
	until,
	waitMs,
} from './hostile-fixture.js';

/**
 * Resident memory torrent-rx may reach in these runs: it idles at about 125 MiB (Node, tsx, the
 * pipeline). Buffering a 2 GiB length prefix, or a flood, would go far past it.
 */
const peakRssLimitMib = 256;

/** 97 pieces of 32 KiB: the bitfield has 7 spare bits, and the last piece is 5000 bytes. */
async function ninetySevenPieces(t: ExecutionContext): Promise<HostileSwarm> {
	const swarm = await hostileTorrent(t, {name: 'hostile.bin', length: 3 * mib + 5000}, 32 * kib);
	t.is(swarm.pieceCount, 97);
	return swarm;
}

/**
 * Starts torrent-rx on the torrent, seeding afterwards (so it stays up to be measured), on a
 * port of its own (`run.port`).
 */
async function startTorrentRx(t: ExecutionContext, swarm: HostileSwarm, outputDir: string) {
	const port = await freePort();
	const run = spawnTorrentRx(
		t,
		[
			swarm.torrentPath,
			'--output',
			outputDir,
			'--seed',
			'--port',
			String(port),
			'--no-metrics',
			'--no-history',
			'--debug',
		],
		{timeoutMs: runTimeoutMs},
	);
	return Object.assign(run, {port});
}

/** Reads torrent-rx's peak memory, stops it, and returns what it printed. */
async function stopTorrentRx(run: RunningTorrentRx) {
	const memory = await memoryOf(run.child.pid);
	await killProcess(run.child, 'SIGINT');
	return {memory, events: debugEvents(run.stderr())};
}

function describe(events: readonly DebugEvent[], servers: Record<string, HostileServer>): string {
	return Object.entries(servers)
		.map(([name, server]) => `${name}: ${JSON.stringify(reasonsFor(events, server.port))}`)
		.join('\n');
}

test('protocol violations, silence, trickling and hang-ups: each peer dropped with its reason, the download finished from the honest seeder', async (t) => {
	t.timeout(testTimeoutMs);
	const swarm = await ninetySevenPieces(t);
	const peers = await announceHostile(t, swarm, {
		garbageHandshake: hostile.garbageHandshake,
		wrongInfoHash: hostile.wrongInfoHash,
		hugeLengthPrefix: hostile.hugeLengthPrefix,
		bitfieldWrongLength: hostile.bitfieldWrongLength,
		bitfieldSpareBits: hostile.bitfieldSpareBits,
		haveOutOfRange: hostile.haveOutOfRange,
		unrequestedBlock: hostile.unrequestedBlock,
		misalignedBlock: hostile.misalignedBlock,
		shortBlock: hostile.shortBlock,
		silent: hostile.silent,
		trickle: hostile.trickle,
		disconnectMidPiece: hostile.disconnectMidPiece,
	});
	const gate = await gatedHonestSeeder(t, swarm);
	const outputDir = await tempDir(t);
	const run = await startTorrentRx(t, swarm, outputDir);

	const asked = [
		peers.misalignedBlock,
		peers.shortBlock,
		peers.silent,
		peers.trickle,
		peers.disconnectMidPiece,
	];
	await until(
		() => asked.every((server) => (server.connections[0]?.requests.length ?? 0) > 0),
		waitMs,
		'every hostile peer that answers requests was asked for blocks',
	);
	gate.open();
	await waitForDebugEvent(run, (event) => event.type === 'completed', {timeoutMs: waitMs});
	const completedAt = Date.now();
	const ports = Object.values(peers).map((server) => server.port);
	await until(
		() => {
			const events = debugEvents(run.stderr());
			return ports.every((port) => reasonsFor(events, port).length > 0);
		},
		waitMs,
		'every hostile peer dropped',
	).catch(() => undefined);
	const {memory, events} = await stopTorrentRx(run);
	const context = describe(events, peers);

	const expected: Record<keyof typeof peers, RegExp> = {
		garbageHandshake: /^not a BitTorrent handshake$/,
		wrongInfoHash: /^handshake for another torrent$/,
		hugeLengthPrefix: /^message length 2147483648 exceeds 131081$/,
		bitfieldWrongLength: /^bitfield is 14 bytes, expected 13$/,
		bitfieldSpareBits: /^bitfield has spare bits set$/,
		haveOutOfRange: /^have for piece 97 of 97$/,
		unrequestedBlock: /^sent a block we did not request \(piece 0, offset 0, 16384 bytes\)$/,
		// One byte past a block boundary (an odd offset): no block of ours starts there.
		misalignedBlock: /^sent a block we did not request \(piece \d+, offset \d*[13579], \d+ bytes\)$/,
		shortBlock: /^sent a block that does not fit \(piece \d+, offset \d+, (16383|4999) bytes\)$/,
		// Their blocks were asked of the honest seeder in endgame and theirs cancelled; once we are
		// complete two seeds part. (Only a machine slowed down past the 30 s request timeout sees
		// that first; in-process.test.ts pins it.)
		silent: /^(both sides have every piece|no block for 30 s)$/,
		trickle: /^(both sides have every piece|no block for 30 s)$/,
		// It resets the connection, with torrent-rx's latest requests unread, or closes it.
		disconnectMidPiece: /^(connection closed|read ECONNRESET)$/,
	};
	for (const [name, pattern] of Object.entries(expected) as Array<[keyof typeof peers, RegExp]>) {
		const server = peers[name];
		const [first] = reasonsFor(events, server.port);
		t.regex(first ?? 'never dropped', pattern, `${name}\n${context}`);
		if (name !== 'disconnectMidPiece') {
			t.is(server.connections[0]?.closedBy, 'remote', `torrent-rx hung up on ${name}`);
		}
	}

	for (const name of ['silent', 'trickle'] as const) {
		t.true(
			(peers[name].connections[0]?.counts.cancel ?? 0) > 0,
			`the blocks ${name} held back were cancelled`,
		);
	}

	t.false(
		events.some((event) => event.type === 'piece-failed'),
		'no piece failed: nothing bad was stored',
	);
	// Through the gate, or by calling us back at the port our extended handshake names.
	const hostilePeers = new Set(ports.map((port) => `127.0.0.1:${port}`));
	t.true(
		events.some((event) => event.type === 'piece-verified' && !hostilePeers.has(String(event.peer))),
		'the honest seeder sent pieces',
	);
	t.is(peers.disconnectMidPiece.connections[0]?.closedBy, 'local', "the hang-up was the peer's");
	t.log(`peak RSS ${memory.peakMib.toFixed(0)} MiB; completed ${Date.now() - completedAt} ms before the end`);
	t.true(memory.peakMib < peakRssLimitMib, `peak RSS ${memory.peakMib} MiB`);
	await assertSameFiles(t, outputDir, swarm.payload);
});

test('floods of keep-alives, haves and requests: memory stays flat and the download finishes', async (t) => {
	t.timeout(testTimeoutMs);
	const startedAt = Date.now();
	const swarm = await ninetySevenPieces(t);
	const peers = await announceHostile(t, swarm, {
		keepAliveFlood: hostile.keepAliveFlood,
		haveFlood: hostile.haveFlood,
		requestFlood: hostile.requestFlood,
	});
	const gate = await gatedHonestSeeder(t, swarm);
	const outputDir = await tempDir(t);
	const run = await startTorrentRx(t, swarm, outputDir);
	await until(
		() =>
			[peers.keepAliveFlood, peers.haveFlood].every((server) =>
				server.connections[0]?.marks.includes('flood done'),
			),
		waitMs,
		'the keep-alive and have floods are out',
	);
	const flooded = await memoryOf(run.child.pid);
	t.log(`floods out after ${Date.now() - startedAt} ms`);
	gate.open();
	await waitForDebugEvent(run, (event) => event.type === 'completed', {timeoutMs: waitMs});
	t.log(`completed after ${Date.now() - startedAt} ms`);
	await sleep(500);
	const {memory, events} = await stopTorrentRx(run);
	t.log(`after the floods ${flooded.rssMib.toFixed(0)} MiB, peak ${memory.peakMib.toFixed(0)} MiB`);
	t.log(describe(events, peers));

	// Legal, if pointless: neither flood is a reason to hang up, and neither costs memory.
	t.deepEqual(reasonsFor(events, peers.keepAliveFlood.port), []);
	t.true(
		reasonsFor(events, peers.haveFlood.port).every((reason) => reason === 'both sides have every piece'),
		'the have flood was a seed like any other',
	);
	t.regex(reasonsFor(events, peers.requestFlood.port)[0] ?? '', /^requested piece 0, which we do not have$/);
	t.true(memory.peakMib < peakRssLimitMib, `peak RSS ${memory.peakMib} MiB`);
	await assertSameFiles(t, outputDir, swarm.payload);
});

test('peers whose data fails the hash, always or sometimes, are banned after three strikes; nothing unverified reaches the disk', async (t) => {
	t.timeout(testTimeoutMs);
	const swarm = await ninetySevenPieces(t);
	const peers = await announceHostile(t, swarm, {
		badData: hostile.badData,
		sometimesBadData: hostile.sometimesBadData,
	});
	const outputDir = await tempDir(t);
	const run = await startTorrentRx(t, swarm, outputDir);
	const banReason = 'sent 3 pieces that failed the hash check';
	for (const server of Object.values(peers)) {
		await waitForDebugEvent(
			run,
			(event) => event.type === 'peer-disconnected' && event.peer === `127.0.0.1:${server.port}`,
			{timeoutMs: waitMs},
		);
	}

	// Only the hostile peers have sent anything yet: whatever is on disk came from them.
	await sleep(200);
	const present = await assertOnlyVerifiedPieces(t, outputDir, swarm);
	const events = debugEvents(run.stderr());
	await killProcess(run.child, 'SIGINT');
	for (const [name, server] of Object.entries(peers)) {
		const peer = `127.0.0.1:${server.port}`;
		t.deepEqual(reasonsFor(events, server.port), [banReason], name);
		t.deepEqual(
			events
				.filter((event) => event.type === 'piece-failed' && event.peer === peer)
				.map((event) => event.strikes)
				.slice(0, 3),
			[1, 2, 3],
			`${name}: a strike per failed piece`,
		);
		t.is(server.connections.length, 1, `${name} is not called again`);
	}

	// Its good pieces pass the check and are written, but those still being written when the ban
	// lands are forgotten (the session's writes are unsubscribed; the bytes reach the disk all the
	// same): so at least the verified ones are on disk, perhaps more.
	const verified = events.filter((event) => event.type === 'piece-verified').length;
	t.true(present >= verified, `${present} pieces on disk, ${verified} verified`);
});

// Regression: a peer that left garbage in the first block of half-done pieces (then hung up;
// endgame mixes blocks the same way) once got the honest seeder banned: each piece failed its hash,
// only the peer that finished it was banned, and the download never completed. A smart ban in
// source/swarm/blame.ts now blames the poisoner (see in-process.test.ts, in virtual time).
test('a peer that poisons half pieces and hangs up does not get the honest seeder banned', async (t) => {
	t.timeout(testTimeoutMs);
	const swarm = await ninetySevenPieces(t);
	const peers = await announceHostile(t, swarm, {poisonHalfPieces: hostile.poisonHalfPieces});
	const gate = await gatedHonestSeeder(t, swarm);
	const outputDir = await tempDir(t);
	const run = await startTorrentRx(t, swarm, outputDir);
	const poisoner = `127.0.0.1:${peers.poisonHalfPieces.port}`;
	await waitForDebugEvent(run, (event) => event.type === 'peer-disconnected' && event.peer === poisoner, {
		timeoutMs: waitMs,
	});
	gate.open();
	// The honest seeder needs a second or so for the whole torrent; the bug means never.
	const completed = await waitForDebugEvent(run, (event) => event.type === 'completed', {
		timeoutMs: 15_000,
	}).catch((error: unknown) => error as Error);
	const {events} = await stopTorrentRx(run);
	const honestPeer = `127.0.0.1:${gate.port}`;
	t.deepEqual(
		events
			.filter((event) => event.type === 'peer-disconnected' && event.peer === honestPeer)
			.map((event) => event.reason)
			.filter((reason) => String(reason).includes('hash')),
		[],
		'the honest seeder is not banned',
	);
	t.false(completed instanceof Error, 'the download completed');
	await assertSameFiles(t, outputDir, swarm.payload);
});

// Bans are kept by address, and a peer that calls us comes from a port of its own: the peer id
// in its handshake is what gives a banned peer away.
test('a banned peer that calls back in from another port is refused', async (t) => {
	t.timeout(testTimeoutMs);
	const swarm = await ninetySevenPieces(t);
	const peers = await announceHostile(t, swarm, {badData: hostile.badData});
	const outputDir = await tempDir(t);
	const run = await startTorrentRx(t, swarm, outputDir);
	await waitForDebugEvent(
		run,
		(event) => event.type === 'peer-disconnected' && event.peer === `127.0.0.1:${peers.badData.port}`,
		{timeoutMs: waitMs},
	);
	t.deepEqual(reasonsFor(debugEvents(run.stderr()), peers.badData.port), [
		'sent 3 pieces that failed the hash check',
	]);
	const comeback = await dialHostile(t, run.port, swarm.torrent, hostile.badData);
	await Promise.race([comeback.log.closed, sleep(3000)]);
	const {events} = await stopTorrentRx(run);
	t.is(comeback.log.requests.length, 0, 'the banned peer is not asked for blocks again');
	t.false(
		events.some((event) => event.type === 'piece-failed' && event.peer === comeback.peer),
		'nor does it get to send more garbage',
	);
});
