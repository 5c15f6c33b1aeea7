/**
 * What the hostile-peer CLI tests share: a payload and torrent with an honest libtorrent seeder
 * behind opentracker, hostile peers announced beside it, torrent-rx's peak memory read from
 * /proc, and a check that the files on disk hold nothing but verified pieces.
 */
import {open, readFile, writeFile} from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import type {ExecutionContext} from 'ava';
import bencode from 'bencode';
import {
	type HostileScript,
	type HostileServer,
	type HostileTorrent,
	listenHostile,
} from '../helpers/hostile-peer.js';
import {
	announceSeeder,
	type DebugEvent,
	libtorrentInfoHash,
	makePayload,
	type Payload,
	type PayloadSpec,
	startLibtorrentSeeder,
	tempDir,
	trackedTorrent,
} from '../helpers/swarm-fixture.js';

export const kib = 1024;
export const mib = 1024 * kib;

/**
 * Time bounds, generous because the machine may be busy: each wait returns as soon as its event
 * comes (a second or two on an idle machine), the run is killed after `runTimeoutMs`, and the
 * test fails after `testTimeoutMs`.
 */
export const waitMs = 40_000;
export const runTimeoutMs = 90_000;
export const testTimeoutMs = 100_000;

export type HostileSwarm = {
	payload: Payload;
	/** The payload's bytes in torrent order, its piece length and info hash, for the hostile peers. */
	torrent: HostileTorrent;
	torrentPath: string;
	trackerUrl: string;
	infoHash: string;
	pieceCount: number;
};

/** A payload in a fresh folder and a libtorrent-made torrent of it, served by a fresh opentracker. */
export async function hostileTorrent(
	t: ExecutionContext,
	spec: PayloadSpec,
	pieceLength: number,
): Promise<HostileSwarm> {
	const seedDir = await tempDir(t, 'torrent-rx-hostile-seed-');
	const payload = await makePayload(seedDir, spec);
	const {tracker, torrentPath, infoHash} = await trackedTorrent(t, payload, pieceLength);
	const bytes = Buffer.concat(payload.files.map((file) => file.data));
	return {
		payload,
		torrent: {infoHash: Buffer.from(infoHash, 'hex'), pieceLength, payload: bytes},
		torrentPath,
		trackerUrl: tracker.url,
		infoHash,
		pieceCount: Math.ceil(bytes.length / pieceLength),
	};
}

/** Starts one hostile peer per script and announces each to the tracker as a seeder. */
export async function announceHostile<Name extends string>(
	t: ExecutionContext,
	swarm: HostileSwarm,
	scripts: Record<Name, HostileScript>,
): Promise<Record<Name, HostileServer>> {
	const servers = {} as Record<Name, HostileServer>;
	for (const [name, behaviour] of Object.entries(scripts) as Array<[Name, HostileScript]>) {
		const server = await listenHostile(t, swarm.torrent, behaviour);
		await announceSeeder(swarm.trackerUrl, swarm.infoHash, server.port);
		servers[name] = server;
	}

	return servers;
}

/** The process's peak resident set (VmHWM) and current one (VmRSS), in MiB; read before it exits. */
export async function memoryOf(pid: number | undefined): Promise<{peakMib: number; rssMib: number}> {
	const status = await readFile(`/proc/${pid}/status`, 'utf8');
	const field = (name: string) =>
		Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
	return {peakMib: field('VmHWM') / 1024, rssMib: field('VmRSS') / 1024};
}

/** The reasons torrent-rx gave for dropping 127.0.0.1:`port`, in order. */
export function reasonsFor(events: readonly DebugEvent[], port: number): string[] {
	const peer = `127.0.0.1:${port}`;
	return events
		.filter((event) => event.type === 'peer-disconnected' && event.peer === peer)
		.map((event) => String(event.reason));
}

/**
 * Every piece of the payload as it lies in `dir` is either untouched (all zeros: the files are
 * created sparse) or exactly the right bytes: nothing unverified was ever left on disk.
 * Returns how many pieces are there.
 */
export async function assertOnlyVerifiedPieces(
	t: ExecutionContext,
	dir: string,
	swarm: HostileSwarm,
): Promise<number> {
	const {pieceLength, payload: expected} = swarm.torrent;
	const onDisk = Buffer.alloc(expected.length);
	let offset = 0;
	for (const file of swarm.payload.files) {
		const handle = await open(path.join(dir, file.relativePath), 'r').catch(() => undefined);
		if (handle) {
			await handle.read(onDisk, offset, file.length, 0);
			await handle.close();
		}

		offset += file.length;
	}

	let present = 0;
	const bad: number[] = [];
	for (let index = 0; index < swarm.pieceCount; index++) {
		const start = index * pieceLength;
		const piece = onDisk.subarray(start, start + pieceLength);
		if (piece.equals(expected.subarray(start, start + pieceLength))) {
			present++;
		} else if (piece.some((byte) => byte !== 0)) {
			bad.push(index);
		}
	}

	t.deepEqual(bad, [], 'no piece on disk holds anything but its verified bytes');
	return present;
}

/** The payload files in `dir` are byte-identical to the seeder's. */
export async function assertSameFiles(t: ExecutionContext, dir: string, payload: Payload): Promise<void> {
	for (const file of payload.files) {
		const written = await readFile(path.join(dir, file.relativePath)).catch(() => Buffer.alloc(0));
		// Not t.deepEqual: a diff of megabytes helps nobody.
		t.true(written.equals(file.data), `${file.relativePath} is byte-identical to the seeder's`);
	}
}

export type Gate = {port: number; open(): void};

/**
 * The honest libtorrent seeder, reachable only through a gate on 127.0.0.1 that the tracker
 * lists in its place: connections to the gate wait (their bytes held) until `open()`, then
 * pass both ways. So a test decides when the honest peer may start sending, and the hostile
 * peers get their turn first. The seeder itself announces nothing: it is given a copy of the
 * torrent without trackers (same info dictionary, same info hash).
 */
export async function gatedHonestSeeder(t: ExecutionContext, swarm: HostileSwarm): Promise<Gate> {
	const metainfo = bencode.decode(await readFile(swarm.torrentPath)) as Record<string, unknown>;
	delete metainfo.announce;
	delete metainfo['announce-list'];
	const quietPath = path.join(await tempDir(t, 'torrent-rx-hostile-quiet-'), 'quiet.torrent');
	await writeFile(quietPath, bencode.encode(metainfo));
	t.is(await libtorrentInfoHash(quietPath), swarm.infoHash, 'the tracker-less copy is the same torrent');
	const seeder = await startLibtorrentSeeder(t, quietPath, path.dirname(swarm.payload.path), {
		mode: 'seed-quietly',
	});

	let opened = false;
	const waiting: Array<() => void> = [];
	const sockets = new Set<net.Socket>();
	const server = net.createServer({noDelay: true}, (client) => {
		client.pause();
		const connectUpstream = () => {
			const upstream = net.connect({host: '127.0.0.1', port: seeder.port, noDelay: true});
			for (const socket of [client, upstream]) {
				sockets.add(socket);
				socket.on('error', () => undefined);
				socket.once('close', () => {
					sockets.delete(socket);
					client.destroy();
					upstream.destroy();
				});
			}

			client.pipe(upstream);
			upstream.pipe(client);
		};

		if (opened) {
			connectUpstream();
		} else {
			sockets.add(client);
			client.on('error', () => undefined);
			waiting.push(connectUpstream);
		}
	});
	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => resolve());
	});
	t.teardown(
		() =>
			new Promise<void>((resolve) => {
				for (const socket of sockets) {
					socket.destroy();
				}

				server.close(() => resolve());
			}),
	);
	const address = server.address();
	const port = typeof address === 'object' && address ? address.port : 0;
	await announceSeeder(swarm.trackerUrl, swarm.infoHash, port);
	return {
		port,
		open() {
			opened = true;
			for (const connect of waiting.splice(0)) {
				connect();
			}
		},
	};
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export {until} from '../helpers/until.js';
