/**
 * What the fault tests need beyond test/helpers/swarm-fixture.ts: .torrent files made here (with
 * tracker tiers, or with file names no creator would write), small HTTP trackers that answer,
 * fail or hang as told, a seeder behind those trackers, and size-limited tmpfs mounts. Every
 * server, process and mount is released in `t.teardown`.
 */
import {execFile} from 'node:child_process';
import {createHash} from 'node:crypto';
import {mkdir, readFile, writeFile} from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import process from 'node:process';
import {promisify} from 'node:util';
import type {ExecutionContext} from 'ava';
import bencode from 'bencode';
import {
	type DebugEvent,
	debugEvents,
	listenOnLoopback,
	listPayloadFiles,
	pseudoRandomBytes,
	startLibtorrentSeeder,
	startThrottledProxy,
	type Teardown,
	tempDir,
} from '../../helpers/swarm-fixture.js';

const run = promisify(execFile);

export const kib = 1024;
export const mib = 1024 * kib;

/** One payload file: its path below the torrent's name (components as the torrent lists them) and bytes. */
export type TorrentFile = {path: string[]; data: Buffer};

export type TorrentSpec = {
	name: string;
	pieceLength: number;
	/** BEP 12 tiers; the first tracker is also `announce`. */
	tiers: string[][];
	/** Several files under the folder `name`; without it, one file called `name` holding `data`. */
	files?: TorrentFile[];
	data?: Buffer;
};

/**
 * A v1 .torrent written by hand with the `bencode` package: creators refuse names such as `..`,
 * and tests need announce lists of their own.
 */
export function buildTorrent(spec: TorrentSpec): Buffer {
	const payload = spec.files
		? Buffer.concat(spec.files.map((file) => file.data))
		: (spec.data ?? Buffer.alloc(0));
	const hashes: Buffer[] = [];
	for (let offset = 0; offset < payload.length; offset += spec.pieceLength) {
		hashes.push(
			createHash('sha1')
				.update(payload.subarray(offset, offset + spec.pieceLength))
				.digest(),
		);
	}

	const info: Record<string, unknown> = {
		name: spec.name,
		'piece length': spec.pieceLength,
		pieces: Buffer.concat(hashes),
		...(spec.files
			? {files: spec.files.map((file) => ({length: file.data.length, path: file.path}))}
			: {length: payload.length}),
	};
	return Buffer.from(
		bencode.encode({
			announce: spec.tiers[0]?.[0] ?? '',
			'announce-list': spec.tiers,
			info,
		}),
	);
}

/** The SHA-1 of the torrent's info dictionary, hex. */
export function infoHashOf(torrent: Buffer): string {
	const decoded = bencode.decode(torrent) as {info: unknown};
	return createHash('sha1').update(bencode.encode(decoded.info)).digest('hex');
}

/** A payload, its .torrent on disk, and the folder a seeder serves it from. */
export type Fixture = {
	torrentPath: string;
	infoHash: string;
	seedDir: string;
	/** Every payload file relative to the output folder (starting with the torrent's name), with its bytes. */
	files: Array<{relativePath: string; data: Buffer}>;
};

/**
 * Writes `spec`'s payload into a fresh seed folder and its .torrent beside it. Payload bytes are
 * pseudo-random, seeded by the file's path and `salt`, so that no two tests share an info hash.
 */
export async function makeFixture(
	t: Teardown,
	{
		name,
		pieceLength,
		tiers,
		files,
		length = 0,
		salt,
	}: {
		name: string;
		pieceLength: number;
		tiers: string[][];
		files?: Array<{path: string[]; length: number}>;
		length?: number;
		salt: string;
	},
): Promise<Fixture> {
	const seedDir = await tempDir(t, 'torrent-rx-fault-seed-');
	const entries = files
		? files.map((file) => ({components: [name, ...file.path], length: file.length}))
		: [{components: [name], length}];
	const written: Fixture['files'] = [];
	for (const entry of entries) {
		const relativePath = path.join(...entry.components);
		const data = pseudoRandomBytes(entry.length, `${salt}/${entry.components.join('/')}`);
		await mkdir(path.dirname(path.join(seedDir, relativePath)), {recursive: true});
		await writeFile(path.join(seedDir, relativePath), data);
		written.push({relativePath, data});
	}

	const torrent = buildTorrent({
		name,
		pieceLength,
		tiers,
		...(files
			? {
					files: files.map((file, index) => ({
						path: file.path,
						data: written[index]?.data ?? Buffer.alloc(0),
					})),
				}
			: {data: written[0]?.data ?? Buffer.alloc(0)}),
	});
	const torrentPath = path.join(seedDir, `${name}.torrent`);
	await writeFile(torrentPath, torrent);
	return {torrentPath, infoHash: infoHashOf(torrent), seedDir, files: written};
}

/** One announce a fake tracker received. */
export type Announce = {at: number; event: string | undefined; left: number};

export type FakeTracker = {
	url: string;
	port: number;
	/** Every announce received so far, in order. */
	announces: Announce[];
	/** Connections accepted (a hanging tracker sees them without complete requests being answered). */
	connections(): number;
	stop(): Promise<void>;
};

/** What a fake tracker does with an announce. */
export type TrackerBehaviour =
	| {kind: 'peers'; peers: () => Array<{host: string; port: number}>; interval?: number}
	| {kind: 'status'; status: number}
	| {kind: 'hang'}
	| {kind: 'body'; body: Buffer};

function compactPeers(peers: Array<{host: string; port: number}>): Buffer {
	return Buffer.concat(
		peers.map((peer) => {
			const entry = Buffer.alloc(6);
			for (const [index, part] of peer.host.split('.').entries()) {
				entry.writeUInt8(Number(part), index);
			}

			entry.writeUInt16BE(peer.port, 4);
			return entry;
		}),
	);
}

/** An HTTP tracker on 127.0.0.1 port 0 that behaves as told and records what it was asked. */
export async function startFakeTracker(t: Teardown, behaviour: TrackerBehaviour): Promise<FakeTracker> {
	const announces: Announce[] = [];
	let connections = 0;
	const sockets = new Set<net.Socket>();
	const server = http.createServer((request, response) => {
		const query = new URL(request.url ?? '/', 'http://tracker').searchParams;
		announces.push({
			at: Date.now(),
			event: query.get('event') ?? undefined,
			left: Number(query.get('left')),
		});
		switch (behaviour.kind) {
			case 'peers': {
				response.end(
					Buffer.from(
						bencode.encode({
							interval: behaviour.interval ?? 1800,
							peers: compactPeers(behaviour.peers()),
						}),
					),
				);
				break;
			}

			case 'status': {
				response.statusCode = behaviour.status;
				response.end('internal error');
				break;
			}

			case 'body': {
				response.end(behaviour.body);
				break;
			}

			case 'hang': {
				// Accept, read the request, and never answer.
				break;
			}
		}
	});
	server.on('connection', (socket) => {
		connections++;
		sockets.add(socket);
		socket.once('close', () => sockets.delete(socket));
	});
	const {port, stop} = await listenOnLoopback(t, server, 'the fake tracker', () => {
		for (const socket of sockets) {
			socket.destroy();
		}
	});
	return {
		url: `http://127.0.0.1:${port}/announce`,
		port,
		announces,
		connections: () => connections,
		stop,
	};
}

/**
 * A libtorrent seeder for `fixture` (no tracker of its own), optionally behind a proxy that
 * passes at most `bytesPerSecond`: the address the fake tracker should name.
 */
export async function startSeeder(
	t: Teardown,
	fixture: Fixture,
	{bytesPerSecond}: {bytesPerSecond?: number} = {},
): Promise<{host: string; port: number}> {
	const seeder = await startLibtorrentSeeder(t, fixture.torrentPath, fixture.seedDir, {mode: 'seed-quietly'});
	if (bytesPerSecond === undefined) {
		return {host: '127.0.0.1', port: seeder.port};
	}

	const proxy = await startThrottledProxy(t, seeder.port, bytesPerSecond);
	return {host: '127.0.0.1', port: proxy.port};
}

/** Fails the test clearly unless it runs as root (CI does): mounting needs it. */
export function requireRoot(t: ExecutionContext): boolean {
	if (process.getuid?.() !== 0) {
		t.fail('this test mounts a tmpfs and must run as root (as it does in CI)');
		return false;
	}

	return true;
}

export type Tmpfs = {
	dir: string;
	/** Changes the size limit in place; the files stay. */
	resize(bytes: number): Promise<void>;
};

/** A tmpfs of `bytes` mounted on a fresh folder, unmounted (lazily, if busy) when the test ends. */
export async function mountTmpfs(t: Teardown, bytes: number): Promise<Tmpfs> {
	const dir = await tempDir(t, 'torrent-rx-tmpfs-');
	const sizeOption = (size: number) => `size=${Math.ceil(size / 1024)}k`;
	await run('mount', ['-t', 'tmpfs', '-o', sizeOption(bytes), 'tmpfs', dir]);
	// Registered after tempDir's removal, so it runs first: ava runs teardowns last-in first-out.
	t.teardown(async () => {
		await run('umount', [dir]).catch(() => run('umount', ['-l', dir]));
	});
	return {
		dir,
		async resize(size) {
			await run('mount', ['-o', `remount,${sizeOption(size)}`, dir]);
		},
	};
}

/** Asserts that `outputDir` holds exactly `fixture`'s files (besides torrent-rx's own) with the same bytes. */
export async function assertSameFiles(
	t: ExecutionContext,
	outputDir: string,
	fixture: Fixture,
): Promise<void> {
	t.deepEqual(
		await listPayloadFiles(outputDir),
		fixture.files.map((file) => file.relativePath).sort(),
		'exactly the payload files are there',
	);
	for (const file of fixture.files) {
		const written = await readFile(path.join(outputDir, file.relativePath));
		// Not t.deepEqual: a diff of megabytes helps nobody.
		t.true(written.equals(file.data), `${file.relativePath} is byte-identical to the seeder's`);
	}
}

/** The run's exit and the tail of its stderr, for assertion messages. */
export function describeRun(result: {
	code: number | null;
	signal: string | null;
	timedOut: boolean;
	stderr: string;
}) {
	return `exit ${result.code ?? result.signal}${result.timedOut ? ' (timed out)' : ''}\nstderr:\n${result.stderr.slice(-3000)}`;
}

/** Debug events of one type. */
export function eventsOfType(stderr: string, type: string): DebugEvent[] {
	return debugEvents(stderr).filter((event) => event.type === type);
}

/** The lines of stderr that are not debug events (what a user reads). */
export function plainLines(stderr: string): string[] {
	return stderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('{'));
}

/** The payload as one buffer, files in torrent order, as read from under `root` (missing bytes are zeros). */
export async function payloadOnDisk(root: string, fixture: Fixture): Promise<Buffer> {
	const parts = await Promise.all(
		fixture.files.map(async (file) => {
			const bytes = await readFile(path.join(root, file.relativePath)).catch(() => Buffer.alloc(0));
			const part = Buffer.alloc(file.data.length);
			bytes.copy(part, 0, 0, Math.min(bytes.length, part.length));
			return part;
		}),
	);
	return Buffer.concat(parts);
}

/**
 * Checks `outputDir`'s resume file for `fixture`, if there is one: it must parse, name this
 * torrent, and claim only pieces whose bytes on disk are right. Returns the pieces it claims
 * (undefined without a resume file).
 */
export async function checkResumeFile(
	t: ExecutionContext,
	outputDir: string,
	fixture: Fixture,
	pieceLength: number,
): Promise<number[] | undefined> {
	const file = path.join(outputDir, '.torrent-rx', `${fixture.infoHash}.resume`);
	const text = await readFile(file, 'utf8').catch(() => undefined);
	if (text === undefined) {
		return undefined;
	}

	const expected = Buffer.concat(fixture.files.map((entry) => entry.data));
	const pieceCount = Math.ceil(expected.length / pieceLength);
	let resume: {version?: unknown; infoHash?: unknown; pieceCount?: unknown; have?: unknown; files?: unknown};
	try {
		resume = JSON.parse(text) as typeof resume;
	} catch {
		t.fail(`the resume file is not JSON: ${JSON.stringify(text.slice(0, 200))}`);
		return undefined;
	}

	t.is(resume.version, 1, 'resume file version');
	t.is(resume.infoHash, fixture.infoHash, 'the resume file names this torrent');
	t.is(resume.pieceCount, pieceCount, 'the resume file has the piece count');
	t.true(Array.isArray(resume.files) && resume.files.length === fixture.files.length, 'one entry per file');
	const have = Buffer.from(typeof resume.have === 'string' ? resume.have : '', 'base64');
	t.is(have.length, Math.ceil(pieceCount / 8), 'the bitfield has a bit per piece');
	const onDisk = await payloadOnDisk(outputDir, fixture);
	const claimed: number[] = [];
	for (let index = 0; index < pieceCount; index++) {
		if ((have[index >> 3] ?? 0) & (0x80 >> (index & 7))) {
			claimed.push(index);
			const start = index * pieceLength;
			const end = Math.min(start + pieceLength, expected.length);
			if (!onDisk.subarray(start, end).equals(expected.subarray(start, end))) {
				t.fail(`piece ${index} is recorded as verified in the resume file but its bytes on disk are wrong`);
			}
		}
	}

	return claimed;
}
