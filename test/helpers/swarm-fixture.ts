/**
 * Real processes for interop tests: an opentracker, libtorrent seeders (through
 * libtorrent-peer.py) and the torrent-rx CLI run from source. Everything binds to 127.0.0.1 on
 * ports the kernel picked, and every process and temporary folder is released in `t.teardown`,
 * which ava runs whether the test passed, failed or timed out.
 */
import {type ChildProcess, execFile, spawn} from 'node:child_process';
import {chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile} from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import process from 'node:process';
import {fileURLToPath} from 'node:url';

/** The part of ava's `ExecutionContext` the helpers need: somewhere to register clean-up. */
export type Teardown = {teardown(fn: () => unknown): void};

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const peerHelper = fileURLToPath(new URL('libtorrent-peer.py', import.meta.url));
/** Debian's python3: the `python3` first on PATH cannot import libtorrent. */
const debianPython = '/usr/bin/python3';

/** Every child still running, so that a crashing test worker does not leave them behind. */
const running = new Set<ChildProcess>();
process.once('exit', () => {
	for (const child of running) {
		child.kill('SIGKILL');
	}
});

/** Registers `child` to be killed if this test process exits while it still runs. */
export function track(child: ChildProcess): ChildProcess {
	running.add(child);
	child.once('exit', () => running.delete(child));
	return child;
}

function hasExited(child: ChildProcess): boolean {
	return child.exitCode !== null || child.signalCode !== null;
}

/** Kills `child` (SIGKILL unless told otherwise) and resolves once it has exited. */
export async function killProcess(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
	if (hasExited(child) || child.pid === undefined) {
		return;
	}

	const exited = new Promise<void>((resolve) => {
		child.once('exit', () => resolve());
	});
	child.kill(signal);
	await exited;
}

/** A fresh folder under the system temp folder, removed when the test ends. */
export async function tempDir(t: Teardown, prefix = 'torrent-rx-test-'): Promise<string> {
	const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
	t.teardown(() => rm(dir, {recursive: true, force: true}));
	return dir;
}

/** Ports this test process has handed out: each goes to one test only. */
const handedOut = new Set<number>();

/** A TCP port on 127.0.0.1 that was free a moment ago, outside the ephemeral range. */
export async function freePort(): Promise<number> {
	// Below the kernel's ephemeral range (32768-60999 here): a port the kernel handed out and we
	// closed can be taken at once as the source port of some outgoing connection, and a tracker
	// started on it a moment later fails to bind. Pick at random below it, and check it binds.
	// Never the same port twice in one process: the tests of a file run at once, and two
	// opentrackers given one port both listen on it (the kernel then splits the announces between
	// them, and each tracker refuses the other's torrent), so "free a moment ago" is not enough.
	for (let attempt = 0; attempt < 50; attempt++) {
		const port = 20_000 + Math.floor(Math.random() * 12_000);
		if (!handedOut.has(port) && (await canListen(port))) {
			handedOut.add(port);
			return port;
		}
	}

	throw new Error('no free port between 20000 and 32000');
}

function canListen(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const server = net.createServer();
		server.unref();
		server.once('error', () => resolve(false));
		server.listen(port, '127.0.0.1', () => {
			server.close(() => resolve(true));
		});
	});
}

/**
 * Waits until the daemon `child` (opentracker, nginx) accepts connections on `port`; fails with
 * what it printed if it could not start or exited first, and then stops it.
 */
export async function daemonListening(
	child: ChildProcess,
	{name, port, timeoutMs, stop}: {name: string; port: number; timeoutMs: number; stop: () => Promise<void>},
): Promise<void> {
	let output = '';
	child.stdout?.on('data', (chunk: Buffer) => {
		output += chunk.toString();
	});
	child.stderr?.on('data', (chunk: Buffer) => {
		output += chunk.toString();
	});
	let spawnError: Error | undefined;
	child.once('error', (error) => {
		spawnError = error;
	});
	try {
		await waitForPort(port, timeoutMs, () => {
			if (spawnError) {
				return `cannot start ${name}: ${spawnError.message}`;
			}

			return hasExited(child)
				? `${name} exited (${child.exitCode ?? child.signalCode}): ${output}`
				: undefined;
		});
	} catch (error) {
		await stop();
		throw error;
	}
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`, rejects after `timeoutMs`. */
export async function waitForPort(port: number, timeoutMs: number, giveUp?: () => string | undefined) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const accepted = await new Promise<boolean>((resolve) => {
			const socket = net.connect({host: '127.0.0.1', port});
			socket.once('connect', () => {
				socket.destroy();
				resolve(true);
			});
			socket.once('error', () => resolve(false));
		});
		if (accepted) {
			return;
		}

		const reason = giveUp?.();
		if (reason !== undefined) {
			throw new Error(reason);
		}

		if (Date.now() > deadline) {
			throw new Error(`nothing accepted connections on 127.0.0.1:${port} within ${timeoutMs} ms`);
		}

		await new Promise((resolve) => setTimeout(resolve, 50));
	}
}

/**
 * Deterministic pseudo-random bytes: xorshift32 seeded from `seed` (a file's name), so payloads
 * are reproducible without fixtures in git, and no two files share content.
 */
export function pseudoRandomBytes(length: number, seed: string): Buffer {
	let state = 0x811c_9dc5;
	for (const byte of Buffer.from(seed)) {
		// FNV-1a, only to turn the name into a non-zero 32-bit seed.
		state = Math.imul(state ^ byte, 0x0100_0193) >>> 0;
	}

	state ||= 1;
	const words = new Uint32Array(Math.ceil(length / 4));
	for (let index = 0; index < words.length; index++) {
		state ^= state << 13;
		state ^= state >>> 17;
		state ^= state << 5;
		state >>>= 0;
		words[index] = state;
	}

	return Buffer.from(words.buffer, 0, length);
}

/** One file: its path below the payload (`/`-separated) and its size in bytes. */
export type PayloadFile = {path: string; length: number};

/** A single file called `name`, or a folder called `name` holding `files`. */
export type PayloadSpec = {name: string; length: number} | {name: string; files: PayloadFile[]};

export type Payload = {
	/** The file or folder to make a torrent of. */
	path: string;
	name: string;
	/** Every file, with its path relative to the folder the payload lives in (starting with `name`). */
	files: Array<{relativePath: string; length: number; data: Buffer}>;
};

/** Writes the payload described by `spec` into `dir` (which becomes the seeder's save folder). */
export async function makePayload(dir: string, spec: PayloadSpec): Promise<Payload> {
	const entries =
		'files' in spec
			? spec.files.map((file) => ({...file, path: `${spec.name}/${file.path}`}))
			: [{path: spec.name, length: spec.length}];
	const files: Payload['files'] = [];
	for (const entry of entries) {
		const relativePath = path.join(...entry.path.split('/'));
		const data = pseudoRandomBytes(entry.length, entry.path);
		const target = path.join(dir, relativePath);
		await mkdir(path.dirname(target), {recursive: true});
		await writeFile(target, data);
		files.push({relativePath, length: entry.length, data});
	}

	return {path: path.join(dir, spec.name), name: spec.name, files};
}

function runPython(args: string[], timeoutMs: number): Promise<string> {
	return new Promise((resolve, reject) => {
		execFile(
			debianPython,
			[peerHelper, ...args],
			{timeout: timeoutMs, killSignal: 'SIGKILL'},
			(error, stdout, stderr) => {
				if (error) {
					reject(new Error(`libtorrent-peer.py ${args[0]} failed: ${error.message}\n${stderr}`));
				} else {
					resolve(stdout.trim());
				}
			},
		);
	});
}

/** The info hash libtorrent computes for a .torrent file (hex). */
export async function libtorrentInfoHash(torrentPath: string): Promise<string> {
	const infoHash = await runPython(['infohash', torrentPath], 20_000);
	if (!/^[\da-f]{40}$/.test(infoHash)) {
		throw new Error(`libtorrent-peer.py infohash printed ${JSON.stringify(infoHash)}`);
	}

	return infoHash;
}

/**
 * Makes a v1-only .torrent of `payloadPath` with libtorrent, announcing to `trackerUrl`; it is
 * written to `torrentPath`, by default beside the payload as `<name>.torrent`.
 */
export async function createTorrent(
	payloadPath: string,
	trackerUrl: string,
	pieceLength: number,
	{torrentPath = `${payloadPath}.torrent`}: {torrentPath?: string} = {},
): Promise<{torrentPath: string; infoHash: string}> {
	await runPython(['create', payloadPath, torrentPath, trackerUrl, String(pieceLength)], 60_000);
	return {torrentPath, infoHash: await libtorrentInfoHash(torrentPath)};
}

/** What `libtorrent-peer.py create-with` takes: libtorrent's defaults (hybrid, pad files) unless `v1Only`. */
export type TorrentOptions = {
	pieceLength?: number;
	v1Only?: boolean;
	/** Tracker tiers, each a list of URLs. */
	trackers?: string[][];
	webSeeds?: string[];
	comment?: string;
	creator?: string;
	private?: boolean;
	/** Links in the payload become BEP 47 links instead of copies of their targets. */
	symlinks?: boolean;
};

/**
 * Makes a .torrent of `payloadPath` at `torrentPath` with libtorrent, as `options` say: its v1
 * info hash, and every hash a tracker hears for it (a hybrid torrent is announced under its
 * truncated v2 hash too).
 */
export async function createTorrentWith(
	payloadPath: string,
	torrentPath: string,
	options: TorrentOptions,
): Promise<{torrentPath: string; infoHash: string; announcedHashes: string[]}> {
	await runPython(['create-with', payloadPath, torrentPath, JSON.stringify(options)], 60_000);
	const {infoHash, infoHashV2} = await libtorrentView(torrentPath);
	return {
		torrentPath,
		infoHash,
		announcedHashes: infoHashV2 ? [infoHash, infoHashV2.slice(0, 40)] : [infoHash],
	};
}

/** What libtorrent reads in a .torrent (`libtorrent-peer.py describe`), pad files left out of `files`. */
export type LibtorrentView = {
	name: string;
	infoHash: string;
	infoHashV2: string | null;
	totalSize: number;
	pieceLength: number;
	pieceCount: number;
	private: boolean;
	trackers: Array<{url: string; tier: number}>;
	webSeeds: string[];
	creationDate: number;
	createdBy: string;
	comment: string;
	/** `symlink`: a BEP 47 link's target as libtorrent resolves it (the link itself when it refuses it). */
	files: Array<{path: string; size: number; symlink?: string}>;
	padFiles: number;
};

export async function libtorrentView(torrentPath: string): Promise<LibtorrentView> {
	return JSON.parse(await runPython(['describe', torrentPath], 20_000)) as LibtorrentView;
}

/**
 * opentracker may accept connections before its whitelist is loaded: announce each hash as a
 * throw-away peer until it is authorised, then withdraw that peer with `event=stopped`.
 */
async function waitForWhitelist(port: number, infoHashes: string[], timeoutMs: number): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	for (const infoHash of infoHashes) {
		const query = [
			`info_hash=${infoHash.replace(/../g, '%$&')}`,
			`peer_id=${'-PROBE0-'.padEnd(20, '0')}`,
			'port=1',
			'uploaded=0',
			'downloaded=0',
			'left=0',
			'compact=1',
			'numwant=0',
		].join('&');
		const announce = async (extra = '') => {
			const response = await fetch(`http://127.0.0.1:${port}/announce?${query}${extra}`, {
				signal: AbortSignal.timeout(2000),
			});
			return Buffer.from(await response.arrayBuffer()).toString('latin1');
		};

		for (;;) {
			const body = await announce().catch((error: unknown) => `failure reason: ${String(error)}`);
			if (!body.includes('failure reason')) {
				await announce('&event=stopped');
				break;
			}

			if (Date.now() > deadline) {
				throw new Error(`opentracker did not authorise ${infoHash} within ${timeoutMs} ms: ${body}`);
			}

			await new Promise((resolve) => setTimeout(resolve, 50));
		}
	}
}

export type Opentracker = {url: string; port: number; stop(): Promise<void>};

/**
 * Starts Debian's opentracker on 127.0.0.1, serving only `infoHashes` (its whitelist is read at
 * start, so the hashes must be known first). Pass `port` when the torrent naming the tracker's
 * URL has to be made before the tracker can start.
 */
export async function startOpentracker(
	t: Teardown,
	infoHashes: string[],
	{port, startTimeoutMs = 10_000}: {port?: number; startTimeoutMs?: number} = {},
): Promise<Opentracker> {
	const dir = await tempDir(t, 'torrent-rx-tracker-');
	// opentracker reads the whitelist after dropping root for `nobody`: mkdtemp's 0700 would hide it.
	await chmod(dir, 0o755);
	// opentracker chdirs to /, so the whitelist path must be absolute.
	const whitelist = path.resolve(dir, 'whitelist');
	await writeFile(whitelist, `${infoHashes.join('\n')}\n`, {mode: 0o644});
	const trackerPort = port ?? (await freePort());
	const portText = String(trackerPort);
	const child = track(
		spawn('opentracker', ['-i', '127.0.0.1', '-p', portText, '-P', portText, '-w', whitelist], {
			stdio: ['ignore', 'pipe', 'pipe'],
		}),
	);
	const stop = () => killProcess(child);
	t.teardown(stop);
	await daemonListening(child, {name: 'opentracker', port: trackerPort, timeoutMs: startTimeoutMs, stop});
	try {
		await waitForWhitelist(trackerPort, infoHashes, startTimeoutMs);
	} catch (error) {
		await stop();
		throw error;
	}

	return {url: `http://127.0.0.1:${trackerPort}/announce`, port: trackerPort, stop};
}

export type Seeder = {port: number; stop(): Promise<void>};

/**
 * Seeds `torrentPath` from `saveDir` (the folder holding the payload) with libtorrent, resolving
 * with its listening port once the tracker has answered it; or, with `dhtBootstrapPort`, with
 * its DHT on and joined through 127.0.0.1:that port, once it is listening.
 */
export async function startLibtorrentSeeder(
	t: Teardown,
	torrentPath: string,
	saveDir: string,
	{
		readyTimeoutMs = 20_000,
		dhtBootstrapPort,
		mode = dhtBootstrapPort === undefined ? 'seed' : 'seed-dht',
		extra = dhtBootstrapPort === undefined ? [] : [String(dhtBootstrapPort)],
		encryption,
	}: {
		readyTimeoutMs?: number;
		dhtBootstrapPort?: number;
		/** libtorrent-peer.py's command: `seed-quietly` needs no tracker, `leech-slowly` downloads at a capped rate. */
		mode?: 'seed' | 'seed-dht' | 'seed-quietly' | 'leech-slowly';
		extra?: string[];
		/** `forced`: MSE/PE with RC4 only, both ways; plaintext peers are dropped. `disabled`: plaintext only. */
		encryption?: 'forced' | 'disabled';
	} = {},
): Promise<Seeder> {
	const command = [mode, torrentPath, saveDir, ...extra];
	const child = track(
		spawn(debianPython, ['-u', peerHelper, ...command], {
			stdio: ['ignore', 'pipe', 'pipe'],
			env: encryption ? {...process.env, TORRENT_RX_LT_ENCRYPTION: encryption} : process.env,
		}),
	);
	const stop = () => killProcess(child);
	t.teardown(stop);
	let stdout = '';
	let stderr = '';
	child.stderr?.on('data', (chunk: Buffer) => {
		stderr += chunk.toString();
	});
	try {
		const port = await new Promise<number>((resolve, reject) => {
			const timer = setTimeout(
				() => reject(new Error(`libtorrent seeder not ready within ${readyTimeoutMs} ms; stderr: ${stderr}`)),
				readyTimeoutMs,
			);
			child.stdout?.on('data', (chunk: Buffer) => {
				stdout += chunk.toString();
				const ready = /^ready (\d+)$/m.exec(stdout);
				if (ready) {
					clearTimeout(timer);
					resolve(Number(ready[1]));
				}
			});
			child.once('error', (error) => {
				clearTimeout(timer);
				reject(new Error(`cannot start the libtorrent seeder: ${error.message}`));
			});
			child.once('exit', (code, signal) => {
				clearTimeout(timer);
				reject(new Error(`libtorrent seeder exited (${code ?? signal}) before ready; stderr: ${stderr}`));
			});
		});
		return {port, stop};
	} catch (error) {
		await stop();
		throw error;
	}
}

/**
 * How aria2c treats MSE/PE: by default it takes plaintext peers as well as encrypted ones;
 * `arc4` requires an MSE/PE handshake and RC4 after it, both ways, and drops plaintext peers.
 */
export type Aria2Encryption = 'arc4';

function aria2EncryptionFlags(encryption: Aria2Encryption | undefined): string[] {
	return encryption === 'arc4'
		? ['--bt-require-crypto=true', '--bt-min-crypto-level=arc4']
		: ['--bt-require-crypto=false'];
}

/**
 * Seeds `torrentPath` from `saveDir` with aria2c (it checks the file first, then seeds without a
 * ratio limit), resolving once the tracker at `trackerUrl` lists it. aria2c reads a handshake
 * strictly on its own, so it catches a client that sends anything before the handshake is done.
 */
export async function startAria2Seeder(
	t: Teardown,
	{
		torrentPath,
		saveDir,
		trackerUrl,
		infoHash,
	}: {torrentPath: string; saveDir: string; trackerUrl: string; infoHash: string},
	{readyTimeoutMs = 20_000, encryption}: {readyTimeoutMs?: number; encryption?: Aria2Encryption} = {},
): Promise<Seeder> {
	const port = await freePort();
	const child = track(
		spawn(
			'aria2c',
			[
				`--dir=${saveDir}`,
				'--check-integrity=true',
				'--seed-ratio=0.0',
				'--enable-dht=false',
				'--enable-dht6=false',
				'--bt-enable-lpd=false',
				'--enable-peer-exchange=false',
				...aria2EncryptionFlags(encryption),
				`--listen-port=${port}`,
				'--summary-interval=0',
				'--console-log-level=warn',
				torrentPath,
			],
			{stdio: ['ignore', 'ignore', 'pipe']},
		),
	);
	const stop = () => killProcess(child);
	t.teardown(stop);
	let stderr = '';
	child.stderr?.on('data', (chunk: Buffer) => {
		stderr += chunk.toString();
	});
	try {
		await waitForTrackerListing(trackerUrl, infoHash, port, {
			timeoutMs: readyTimeoutMs,
			giveUp: () =>
				child.exitCode === null ? undefined : `aria2c seeder exited (${child.exitCode}) before ready`,
		});
	} catch (error) {
		await stop();
		throw new Error(`aria2c seeder not ready: ${(error as Error).message}; stderr: ${stderr}`);
	}

	return {port, stop};
}

export type RunResult = {
	code: number | null;
	signal: NodeJS.Signals | null;
	stdout: string;
	stderr: string;
	/** True when the run was killed for outliving `timeoutMs`. */
	timedOut: boolean;
};

export type RunningTorrentRx = {
	child: ChildProcess;
	/** Everything written to stderr so far. */
	stderr(): string;
	result: Promise<RunResult>;
};

/**
 * Starts the CLI from source (`node --import tsx source/cli.ts …` in the repository root) and
 * kills it after `timeoutMs`, or when the test ends.
 */
export function spawnTorrentRx(
	t: Teardown,
	args: string[],
	{timeoutMs}: {timeoutMs: number},
): RunningTorrentRx {
	// Tests stay on 127.0.0.1: no DHT unless a test brings its own bootstrap node.
	const offline = args.some((arg) => /^--(dht|no-dht|help|version)/.test(arg)) ? [] : ['--no-dht'];
	return spawnTracked(
		t,
		process.execPath,
		['--import', 'tsx', path.join(repoRoot, 'source', 'cli.ts'), ...args, ...offline],
		{
			timeoutMs,
			cwd: repoRoot,
			env: {...process.env, NO_COLOR: '1', FORCE_COLOR: '0'},
		},
	);
}

/**
 * Spawns a process that is killed after `timeoutMs` or when the test ends, collecting its
 * output; `result` resolves on `close`, which waits for stdout and stderr to be fully read.
 */
function spawnTracked(
	t: Teardown,
	command: string,
	args: string[],
	{timeoutMs, cwd, env}: {timeoutMs: number; cwd?: string; env?: NodeJS.ProcessEnv},
): RunningTorrentRx {
	const child = track(
		spawn(command, args, {stdio: ['ignore', 'pipe', 'pipe'], ...(cwd ? {cwd} : {}), ...(env ? {env} : {})}),
	);
	t.teardown(() => killProcess(child));
	let stdout = '';
	let stderr = '';
	child.stdout?.on('data', (chunk: Buffer) => {
		stdout += chunk.toString();
	});
	child.stderr?.on('data', (chunk: Buffer) => {
		stderr += chunk.toString();
	});
	let timedOut = false;
	const timer = setTimeout(() => {
		timedOut = true;
		child.kill('SIGKILL');
	}, timeoutMs);
	const result = new Promise<RunResult>((resolve, reject) => {
		child.once('error', (error) => {
			clearTimeout(timer);
			reject(error);
		});
		child.once('close', (code, signal) => {
			clearTimeout(timer);
			resolve({code, signal, stdout, stderr, timedOut});
		});
	});
	return {child, stderr: () => stderr, result};
}

/** Runs the CLI from source to its end (or `timeoutMs`) and returns its exit code and output. */
export async function runTorrentRx(
	t: Teardown,
	args: string[],
	{timeoutMs}: {timeoutMs: number},
): Promise<RunResult> {
	return spawnTorrentRx(t, args, {timeoutMs}).result;
}

/** The events `--debug` printed on stderr, one JSON object a line. */
export function debugEvents(stderr: string): Array<{type: string; [key: string]: unknown}> {
	return stderr
		.split('\n')
		.filter((line) => line.startsWith('{'))
		.flatMap((line) => {
			try {
				return [JSON.parse(line) as {type: string}];
			} catch {
				return [];
			}
		});
}

/** A swarm of one tracker and one libtorrent seeder for `payload`, all torn down with the test. */
export async function startSwarm(
	t: Teardown,
	payload: Payload,
	pieceLength: number,
): Promise<{tracker: Opentracker; seeder: Seeder; torrentPath: string; infoHash: string}> {
	const {tracker, torrentPath, infoHash} = await trackedTorrent(t, payload, pieceLength);
	const seeder = await startLibtorrentSeeder(t, torrentPath, path.dirname(payload.path));
	return {tracker, seeder, torrentPath, infoHash};
}

/** A libtorrent-made torrent of `payload` and an opentracker that serves it. */
export async function trackedTorrent(
	t: Teardown,
	payload: Payload,
	pieceLength: number,
): Promise<{tracker: Opentracker; torrentPath: string; infoHash: string}> {
	// The torrent names the tracker's URL and the tracker needs the torrent's hash to start: pick the port first.
	const trackerPort = await freePort();
	const {torrentPath, infoHash} = await createTorrent(
		payload.path,
		`http://127.0.0.1:${trackerPort}/announce`,
		pieceLength,
	);
	const tracker = await startOpentracker(t, [infoHash], {port: trackerPort});
	return {tracker, torrentPath, infoHash};
}

/** One event `--debug` printed. */
export type DebugEvent = {type: string; [key: string]: unknown};

/**
 * Resolves with the first debug event of `run` for which `predicate` holds (it also sees every
 * event so far), checked as each chunk of stderr arrives; rejects when the run ends first or
 * after `timeoutMs`.
 */
export async function waitForDebugEvent(
	run: RunningTorrentRx,
	predicate: (event: DebugEvent, events: readonly DebugEvent[]) => boolean,
	{timeoutMs}: {timeoutMs: number},
): Promise<DebugEvent> {
	const stderr = run.child.stderr;
	if (!stderr) {
		throw new Error('the run has no stderr pipe');
	}

	return new Promise((resolve, reject) => {
		const events: DebugEvent[] = [];
		let parsedUpTo = 0;
		const finish = (settle: () => void) => {
			clearTimeout(timer);
			stderr.off('data', check);
			run.child.off('close', onClose);
			settle();
		};

		// Listeners run in the order they were added: spawnTorrentRx's own has stored the chunk already.
		const check = () => {
			const text = run.stderr();
			const end = text.lastIndexOf('\n') + 1;
			if (end <= parsedUpTo) {
				return;
			}

			const fresh = debugEvents(text.slice(parsedUpTo, end));
			parsedUpTo = end;
			for (const event of fresh) {
				events.push(event);
				if (predicate(event, events)) {
					finish(() => resolve(event));
					return;
				}
			}
		};

		const onClose = () => {
			check();
			finish(() =>
				reject(new Error(`torrent-rx ended before the awaited event; stderr:\n${run.stderr().slice(-4000)}`)),
			);
		};

		const timer = setTimeout(
			() =>
				finish(() =>
					reject(new Error(`no awaited event within ${timeoutMs} ms; stderr:\n${run.stderr().slice(-4000)}`)),
				),
			timeoutMs,
		);
		stderr.on('data', check);
		run.child.once('close', onClose);
		check();
	});
}

export type ProcessResult = RunResult & {
	/** Wall time from spawn to exit, in milliseconds. */
	elapsedMs: number;
};

/** Runs `command` to its end, killed after `timeoutMs` or when the test ends. */
async function runTracked(
	t: Teardown,
	command: string,
	args: string[],
	{timeoutMs, cwd, env}: {timeoutMs: number; cwd?: string; env?: NodeJS.ProcessEnv},
): Promise<ProcessResult> {
	const startedAt = Date.now();
	try {
		const result = await spawnTracked(t, command, args, {
			timeoutMs,
			...(cwd ? {cwd} : {}),
			...(env ? {env} : {}),
		}).result;
		return {...result, elapsedMs: Date.now() - startedAt};
	} catch (error) {
		throw new Error(`cannot run ${command}: ${(error as Error).message}`);
	}
}

/**
 * Downloads `torrentPath` into `dir` with aria2c: BitTorrent only through the torrent's tracker
 * (no DHT, local peer discovery or peer exchange), listening on a free port, and quitting as
 * soon as the download is complete. With `logFile`, aria2c writes its debug log there: each
 * connection's MSE/PE steps are only logged at that level.
 */
export async function runAria2c(
	t: Teardown,
	torrentPath: string,
	dir: string,
	{timeoutMs, encryption, logFile}: {timeoutMs: number; encryption?: Aria2Encryption; logFile?: string},
): Promise<ProcessResult> {
	return runTracked(
		t,
		'aria2c',
		[
			`--dir=${dir}`,
			'--seed-time=0',
			'--enable-dht=false',
			'--enable-dht6=false',
			'--bt-enable-lpd=false',
			'--enable-peer-exchange=false',
			'--file-allocation=none',
			...aria2EncryptionFlags(encryption),
			`--listen-port=${await freePort()}`,
			'--summary-interval=0',
			'--console-log-level=warn',
			...(logFile ? [`--log=${logFile}`, '--log-level=debug'] : []),
			torrentPath,
		],
		{timeoutMs},
	);
}

/**
 * Downloads `torrentPath` into `saveDir` with libtorrent (libtorrent-peer.py `download`);
 * `seconds` is the helper's own measure of the download, when it finished.
 */
export async function runLibtorrentDownload(
	t: Teardown,
	torrentPath: string,
	saveDir: string,
	{timeoutMs, encryption}: {timeoutMs: number; encryption?: 'forced'},
): Promise<ProcessResult & {seconds?: number}> {
	const result = await runTracked(
		t,
		debianPython,
		[
			'-u',
			peerHelper,
			'download',
			torrentPath,
			saveDir,
			String(Math.max(1, Math.floor(timeoutMs / 1000) - 1)),
		],
		{timeoutMs, ...(encryption ? {env: {...process.env, TORRENT_RX_LT_ENCRYPTION: encryption}} : {})},
	);
	const done = /^done ([\d.]+)$/m.exec(result.stdout);
	return done ? {...result, seconds: Number(done[1])} : result;
}

/**
 * Announces a peer at 127.0.0.1:`port` with nothing left to download (a seeder) to the tracker
 * at `trackerUrl`, so that it lists the peer to everyone else who asks about `infoHash`.
 */
export async function announceSeeder(trackerUrl: string, infoHash: string, port: number): Promise<void> {
	const query = [
		`info_hash=${infoHash.replace(/../g, '%$&')}`,
		`peer_id=${`-PROXY0-${port}`.padEnd(20, '0')}`,
		`port=${port}`,
		'uploaded=0',
		'downloaded=0',
		'left=0',
		'compact=1',
		'numwant=0',
		'event=started',
	].join('&');
	const response = await fetch(`${trackerUrl}?${query}`, {signal: AbortSignal.timeout(2000)});
	const body = Buffer.from(await response.arrayBuffer()).toString('latin1');
	if (!response.ok || body.includes('failure reason')) {
		throw new Error(`the tracker refused the announce: ${response.status} ${body}`);
	}
}

/**
 * The peers the tracker at `trackerUrl` lists for `infoHash` (compact IPv4 form), asked by a
 * throw-away leecher that withdraws again with `event=stopped`.
 */
export async function trackerPeers(
	trackerUrl: string,
	infoHash: string,
): Promise<Array<{host: string; port: number}>> {
	const query = [
		`info_hash=${infoHash.replace(/../g, '%$&')}`,
		`peer_id=${'-PEEK00-'.padEnd(20, '0')}`,
		'port=1',
		'uploaded=0',
		'downloaded=0',
		'left=1',
		'compact=1',
		'numwant=200',
	].join('&');
	const announce = async (extra = '') => {
		const response = await fetch(`${trackerUrl}?${query}${extra}`, {signal: AbortSignal.timeout(2000)});
		return Buffer.from(await response.arrayBuffer());
	};

	const body = await announce();
	await announce('&event=stopped');
	const text = body.toString('latin1');
	const match = /5:peers(\d+):/.exec(text);
	if (!match) {
		throw new Error(`no compact peer list from the tracker: ${text}`);
	}

	const start = match.index + match[0].length;
	const compact = body.subarray(start, start + Number(match[1]));
	const peers: Array<{host: string; port: number}> = [];
	for (let offset = 0; offset + 6 <= compact.length; offset += 6) {
		const host = [...compact.subarray(offset, offset + 4)].join('.');
		const port = compact.readUInt16BE(offset + 4);
		// Our own throw-away entry, if the tracker lists the asker too.
		if (port !== 1) {
			peers.push({host, port});
		}
	}

	return peers;
}

/**
 * Resolves once the tracker at `trackerUrl` lists a peer on `port` for `infoHash`, asking every
 * 200 ms; rejects after `timeoutMs`, or as soon as `giveUp` returns a reason.
 */
export async function waitForTrackerListing(
	trackerUrl: string,
	infoHash: string,
	port: number,
	{timeoutMs, giveUp}: {timeoutMs: number; giveUp?: () => string | undefined},
): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	let listed: Array<{host: string; port: number}> = [];
	for (;;) {
		const reason = giveUp?.();
		if (reason !== undefined) {
			throw new Error(reason);
		}

		listed = await trackerPeers(trackerUrl, infoHash).catch(() => listed);
		if (listed.some((peer) => peer.port === port)) {
			return;
		}

		if (Date.now() > deadline) {
			throw new Error(
				`the tracker did not list port ${port} within ${timeoutMs} ms; it lists ${JSON.stringify(listed)}`,
			);
		}

		await new Promise((resolve) => setTimeout(resolve, 200));
	}
}

export type ThrottledProxy = {port: number; stop(): Promise<void>};

/**
 * A TCP proxy on 127.0.0.1 to 127.0.0.1:`upstreamPort` that passes what the upstream sends at
 * most at `bytesPerSecond` (each chunk is followed by a pause as long as it takes at that rate),
 * and the other direction as it comes. It stands in for a slow peer: libtorrent does not
 * rate-limit peers on local addresses.
 */
export async function startThrottledProxy(
	t: Teardown,
	upstreamPort: number,
	bytesPerSecond: number,
): Promise<ThrottledProxy> {
	const sockets = new Set<net.Socket>();
	const timers = new Set<NodeJS.Timeout>();
	const server = net.createServer({noDelay: true}, (client) => {
		const upstream = net.connect({host: '127.0.0.1', port: upstreamPort, noDelay: true});
		for (const socket of [client, upstream]) {
			sockets.add(socket);
			socket.once('close', () => {
				sockets.delete(socket);
				client.destroy();
				upstream.destroy();
			});
			// A reset is how a killed peer leaves: close both sides, nothing more.
			socket.on('error', () => undefined);
		}

		client.pipe(upstream);
		upstream.on('data', (chunk: Buffer) => {
			upstream.pause();
			client.write(chunk);
			const timer = setTimeout(
				() => {
					timers.delete(timer);
					// Asked now, not at the write: a `drain` may have come and gone during the pause.
					if (client.writableNeedDrain) {
						client.once('drain', () => upstream.resume());
					} else {
						upstream.resume();
					}
				},
				(chunk.length / bytesPerSecond) * 1000,
			);
			timers.add(timer);
		});
	});
	return listenOnLoopback(t, server, 'the proxy', () => {
		for (const timer of timers) {
			clearTimeout(timer);
		}

		for (const socket of sockets) {
			socket.destroy();
		}
	});
}

/**
 * Starts `server` on a free port of 127.0.0.1. Its `stop`, also run on teardown, calls
 * `beforeClose` (to end connections and timers) and waits for the server to close.
 */
export async function listenOnLoopback(
	t: Teardown,
	server: net.Server,
	what: string,
	beforeClose: () => void,
): Promise<{port: number; stop(): Promise<void>}> {
	const stop = async () => {
		beforeClose();
		await new Promise<void>((resolve) => {
			server.close(() => resolve());
		});
	};

	await new Promise<void>((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => resolve());
	});
	t.teardown(stop);
	const address = server.address();
	if (!address || typeof address !== 'object') {
		await stop();
		throw new Error(`${what} has no port`);
	}

	return {port: address.port, stop};
}

/** Every regular file below `dir` (relative, sorted), leaving out torrent-rx's own resume folder and history log. */
export async function listPayloadFiles(dir: string): Promise<string[]> {
	const entries = await readdir(dir, {recursive: true});
	const files: string[] = [];
	for (const entry of entries) {
		const ours = entry.startsWith(`.torrent-rx${path.sep}`) || entry === 'history.log';
		if (!ours && (await stat(path.join(dir, entry))).isFile()) {
			files.push(entry);
		}
	}

	return files.sort();
}
