/**
 * Hostile leechers against the real CLI, seeding: torrent-rx has part of a torrent (one of its
 * three files is missing) and serves it with `--seed`; scripted leechers
 * (test/helpers/hostile-peer.ts) call it on real sockets and ask for pieces it lacks, blocks
 * outside the torrent or a piece, oversized blocks, and floods of requests they never read the
 * answers to. Each is refused with a reason, and torrent-rx's memory stays bounded.
 */
import {copyFile, mkdir} from 'node:fs/promises';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {
	type BlockRequest,
	dialHostile,
	type HostileScript,
	hostile,
	leecher,
} from '../helpers/hostile-peer.js';
import {
	debugEvents,
	freePort,
	killProcess,
	spawnTorrentRx,
	tempDir,
	waitForDebugEvent,
} from '../helpers/swarm-fixture.js';
import {
	type HostileSwarm,
	hostileTorrent,
	kib,
	memoryOf,
	mib,
	runTimeoutMs,
	sleep,
	testTimeoutMs,
	until,
	waitMs,
} from './hostile-fixture.js';

/**
 * 13 pieces of 256 KiB over three files; b.bin covers pieces 4 to 8, which torrent-rx lacks. The
 * last piece is 3007 bytes.
 */
async function partialSeed(t: ExecutionContext) {
	const swarm = await hostileTorrent(
		t,
		{
			name: 'album',
			files: [
				{path: 'a.bin', length: mib + 3000},
				{path: 'b.bin', length: mib},
				{path: 'c.bin', length: mib + 7},
			],
		},
		256 * kib,
	);
	t.is(swarm.pieceCount, 13);
	const outputDir = await tempDir(t);
	await mkdir(path.join(outputDir, 'album'));
	for (const name of ['a.bin', 'c.bin']) {
		await copyFile(path.join(swarm.payload.path, name), path.join(outputDir, 'album', name));
	}

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
	const checked = await waitForDebugEvent(run, (event) => event.type === 'checked', {timeoutMs: waitMs});
	t.like(checked, {pieces: 8, total: 13}, 'pieces 0-3 and 9-12 are there');
	await waitForDebugEvent(run, (event) => event.type === 'announce-answered', {timeoutMs: waitMs});
	return {swarm, run, port};
}

/** Every block of the pieces torrent-rx has. */
function presentBlocks(swarm: HostileSwarm): BlockRequest[] {
	const blocks: BlockRequest[] = [];
	for (const index of [0, 1, 2, 3, 9, 10, 11]) {
		for (let begin = 0; begin < swarm.torrent.pieceLength; begin += 16 * kib) {
			blocks.push({index, begin, length: 16 * kib});
		}
	}

	return blocks;
}

function reasonsOf(stderr: string, peer: string): string[] {
	return debugEvents(stderr)
		.filter((event) => event.type === 'peer-disconnected' && event.peer === peer)
		.map((event) => String(event.reason));
}

test('requests for pieces it lacks, outside the torrent or a piece, or over 128 KiB are refused; a request flood is capped', async (t) => {
	t.timeout(testTimeoutMs);
	const {swarm, run, port} = await partialSeed(t);
	const before = await memoryOf(run.child.pid);
	const dial = (behaviour: Parameters<typeof dialHostile>[3]) =>
		dialHostile(t, port, swarm.torrent, behaviour);
	const callers = {
		wrongInfoHash: await dial(hostile.wrongInfoHash),
		garbageHandshake: await dial(hostile.garbageHandshake),
		missingPiece: await dial(leecher.asking({index: 5, begin: 0, length: 16 * kib})),
		pieceOutOfRange: await dial(leecher.asking({index: 13, begin: 0, length: 16 * kib})),
		pastPieceEnd: await dial(leecher.asking({index: 0, begin: 248 * kib, length: 16 * kib})),
		pastLastPiece: await dial(leecher.asking({index: 12, begin: 0, length: 16 * kib})),
		oversized: await dial(leecher.asking({index: 0, begin: 0, length: 160 * kib})),
		zeroLength: await dial(leecher.asking({index: 1, begin: 0, length: 0})),
	};
	const expected: Record<keyof typeof callers, string> = {
		wrongInfoHash: 'handshake for another torrent',
		// Not `\x13BitTorrent protocol`: an MSE/PE handshake, then, whose request never comes.
		garbageHandshake: 'no MSE request within 512 bytes of padding',
		missingPiece: 'requested piece 5, which we do not have',
		pieceOutOfRange: 'requested piece 13, which we do not have',
		pastPieceEnd: 'request beyond the piece (piece 0, offset 253952, 16384 bytes)',
		pastLastPiece: 'request beyond the piece (piece 12, offset 0, 16384 bytes)',
		oversized: 'request beyond the piece (piece 0, offset 0, 163840 bytes)',
		zeroLength: 'request beyond the piece (piece 1, offset 0, 0 bytes)',
	};
	// 200,000 requests (3.4 MB) from a peer that never reads what it is sent.
	const flood = await dial(
		leecher.requestFlood({requests: presentBlocks(swarm), count: 200_000, fast: false}),
	);
	// Out, or cut short: torrent-rx may hang up on a flood before it is all written.
	await until(
		() => flood.log.marks.includes('flood done') || flood.log.closedBy !== undefined,
		waitMs,
		'the flood is out',
	);
	await until(
		() => Object.values(callers).every(({log}) => log.closedBy !== undefined),
		waitMs,
		'torrent-rx hung up on every bad caller',
	);
	await sleep(1500);
	const after = await memoryOf(run.child.pid);
	await killProcess(run.child, 'SIGINT');
	const stderr = run.stderr();

	for (const [name, {log, peer}] of Object.entries(callers) as Array<
		[keyof typeof callers, (typeof callers)[keyof typeof callers]]
	>) {
		t.deepEqual(reasonsOf(stderr, peer), [expected[name]], name);
		t.is(log.closedBy, 'remote', `torrent-rx hung up on ${name}`);
		t.is(log.counts.piece, undefined, `${name} got no block`);
	}

	// A caller hears our handshake, and the info hash in it, only once its own names our torrent.
	t.is(callers.wrongInfoHash.log.handshake, undefined, 'a caller for another torrent learns nothing');
	t.is(callers.garbageHandshake.log.handshake, undefined, 'nor does one that sends garbage');
	t.true(
		callers.missingPiece.log.handshake?.infoHash.equals(swarm.torrent.infoHash),
		'an honest caller does',
	);
	t.deepEqual(reasonsOf(stderr, flood.peer), [], 'requests from an unchoked peer are legal, however many');
	const uploaded = debugEvents(stderr)
		.filter((event) => event.type === 'uploaded' && event.peer === flood.peer)
		.reduce((sum, event) => sum + Number(event.bytes), 0);
	t.log(
		`RSS ${before.rssMib.toFixed(0)} MiB before, peak ${after.peakMib.toFixed(0)} MiB; ${uploaded} bytes handed to the flood's socket`,
	);
	// What the kernel holds for a socket nobody reads, and the 512 KiB torrent-rx queues on top.
	t.true(uploaded < 16 * mib, `${uploaded} bytes written to a peer that reads nothing`);
	t.true(after.peakMib - before.rssMib < 64, `grew from ${before.rssMib} to a peak of ${after.peakMib} MiB`);
});

/** Runs `behaviour` against a partial seed and returns torrent-rx's memory before and after. */
async function floodPartialSeed(t: ExecutionContext, behaviour: (swarm: HostileSwarm) => HostileScript) {
	const {swarm, run, port} = await partialSeed(t);
	const before = await memoryOf(run.child.pid);
	const flood = await dialHostile(t, port, swarm.torrent, behaviour(swarm));
	// Out, or cut short: torrent-rx may hang up on a flood before it is all written.
	await until(
		() => flood.log.marks.includes('flood done') || flood.log.closedBy !== undefined,
		waitMs,
		'the flood is out',
	);
	await sleep(1500);
	const after = await memoryOf(run.child.pid);
	await killProcess(run.child, 'SIGINT');
	t.log(
		`RSS ${before.rssMib.toFixed(0)} MiB before, peak ${after.peakMib.toFixed(0)} MiB, ${after.rssMib.toFixed(0)} MiB after`,
	);
	return {before, after};
}

// With BEP 6 agreed every request over the 2000 queued is owed a reject. A peer that never reads
// once made torrent-rx queue them all (a million requests grew it by about 200 MiB); now, after
// 2000 rejects in a row that the socket could not take, the peer is dropped.
test('a request flood from a BEP 6 peer that never reads: the rejects for what is dropped stay bounded too', async (t) => {
	t.timeout(testTimeoutMs);
	// A million requests (17 MB); all but 2000 are dropped, each answered with a 17-byte reject.
	const {before, after} = await floodPartialSeed(t, (swarm) =>
		leecher.requestFlood({requests: presentBlocks(swarm), count: 1_000_000, fast: true}),
	);
	t.true(after.peakMib - before.rssMib < 64, `grew from ${before.rssMib} to a peak of ${after.peakMib} MiB`);
});

// Every ut_metadata answer is a message queued for the peer; past 1000 requests in a session
// (about 16 MB of a dictionary) the peer is dropped, where it once got a reject for each.
test('a ut_metadata request flood from a peer that never reads stays bounded', async (t) => {
	t.timeout(testTimeoutMs);
	// Half a million requests for the same piece of the info dictionary (about 16 MB).
	const {before, after} = await floodPartialSeed(t, () => leecher.metadataFlood({count: 500_000}));
	t.true(after.peakMib - before.rssMib < 64, `grew from ${before.rssMib} to a peak of ${after.peakMib} MiB`);
});
