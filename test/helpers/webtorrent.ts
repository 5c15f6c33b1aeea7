/**
 * WebTorrent as a real peer for the interop tests: installed on first use into the repository's
 * .tmp/ (one folder per version, kept between runs), and run in a process of its own
 * (webtorrent-peer.mjs), so that its event loop and its crashes stay out of the test's, and it is
 * killed with the test.
 *
 * `npm install webtorrent` does not work as such here: node-datachannel (WebRTC, reached through
 * bittorrent-tracker) fetches or builds a native library at install time. So the install skips
 * install scripts and puts a stub in place of that one binding, which throws when something
 * really uses WebRTC. WebTorrent's TCP paths (HTTP trackers, the TCP peer wire with its MSE/PE)
 * do not.
 */
import {type ChildProcess, execFile, spawn} from 'node:child_process';
import {mkdir, readFile, rename, rm, stat, writeFile} from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import {fileURLToPath, pathToFileURL} from 'node:url';
import {killProcess, repoRoot, type Teardown, track} from './swarm-fixture.js';

export const webTorrentVersion = '3.0.21';

const cacheDir = path.join(repoRoot, '.tmp', `webtorrent-${webTorrentVersion}`);
const lockDir = `${cacheDir}.lock`;
const indexJs = path.join(cacheDir, 'node_modules', 'webtorrent', 'index.js');
const peerScript = fileURLToPath(new URL('webtorrent-peer.mjs', import.meta.url));

/** The line of node-datachannel's ESM entry that loads the native binding it could not build. */
const bindingLine = 'const nodeDataChannel = require("../../../build/Release/node_datachannel.node");';
const bindingStub = [
	'const nodeDataChannel = new Proxy({}, {get: (_target, key) =>',
	"\t['preload', 'initLogger', 'cleanup', 'setSctpSettings'].includes(key)",
	'\t\t? () => {}',
	"\t\t: class { constructor() { throw new Error('node-datachannel stub: WebRTC unavailable'); } },",
	'});',
].join('\n');

let installed: Promise<string> | undefined;

/**
 * The path of WebTorrent's index.js, installing it first if this machine has not yet. Safe to call
 * from every test and every ava worker at once: a worker installs only while it holds a lock
 * folder (taken over when its owner has died), into a folder of its own that is renamed into place
 * once WebTorrent loads from it, so nobody ever sees half an install.
 */
export function ensureWebTorrent({timeoutMs = 300_000}: {timeoutMs?: number} = {}): Promise<string> {
	installed ??= installOnce(Date.now() + timeoutMs).catch((error: unknown) => {
		installed = undefined;
		throw error;
	});
	return installed;
}

async function isInstalled(): Promise<boolean> {
	try {
		const manifest = path.join(cacheDir, 'node_modules', 'webtorrent', 'package.json');
		return (JSON.parse(await readFile(manifest, 'utf8')) as {version?: string}).version === webTorrentVersion;
	} catch {
		return false;
	}
}

async function installOnce(deadline: number): Promise<string> {
	while (!(await isInstalled())) {
		if (await takeLock()) {
			try {
				if (!(await isInstalled())) {
					await install(deadline);
				}
			} finally {
				await rm(lockDir, {recursive: true, force: true});
			}
		} else if (Date.now() > deadline) {
			throw new Error(
				`WebTorrent ${webTorrentVersion} not installed in ${cacheDir} in time: ${lockDir} is held`,
			);
		} else {
			await new Promise((resolve) => setTimeout(resolve, 500));
		}
	}

	return indexJs;
}

/** Takes the install lock, or takes it over from a process that died holding it. */
async function takeLock(): Promise<boolean> {
	await mkdir(path.dirname(lockDir), {recursive: true});
	try {
		await mkdir(lockDir);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
			throw error;
		}

		const owner = Number(await readFile(path.join(lockDir, 'pid'), 'utf8').catch(() => ''));
		// No pid: the owner is between its mkdir and its write, or died there a while ago.
		const stale =
			owner > 0
				? !isAlive(owner)
				: Date.now() -
						(await stat(lockDir).then(
							(info) => info.mtimeMs,
							() => Date.now(),
						)) >
					30_000;
		if (stale) {
			await rm(lockDir, {recursive: true, force: true});
		}

		return false;
	}

	await writeFile(path.join(lockDir, 'pid'), String(process.pid));
	return true;
}

function isAlive(pid: number): boolean {
	try {
		process.kill(pid, 0);
		return true;
	} catch (error) {
		return (error as NodeJS.ErrnoException).code === 'EPERM';
	}
}

async function install(deadline: number): Promise<void> {
	const staging = `${cacheDir}.staging-${process.pid}`;
	await rm(staging, {recursive: true, force: true});
	await mkdir(staging, {recursive: true});
	try {
		await writeFile(path.join(staging, 'package.json'), '{"name": "webtorrent-interop", "private": true}\n');
		await run(
			'npm',
			[
				'install',
				'--no-audit',
				'--no-fund',
				'--no-save',
				'--loglevel=error',
				'--ignore-scripts',
				`webtorrent@${webTorrentVersion}`,
			],
			{cwd: staging, timeoutMs: deadline - Date.now()},
		);
		await stubWebRtc(staging);
		// Loads, makes a client and destroys it: what every test does first.
		const index = path.join(staging, 'node_modules', 'webtorrent', 'index.js');
		const probe = `const {default: W} = await import(${JSON.stringify(pathToFileURL(index).href)}); new W({dht: false, lsd: false, utp: false, natUpnp: false, natPmp: false, webSeeds: false}).destroy();`;
		await run(process.execPath, ['--input-type=module', '-e', probe], {
			cwd: staging,
			timeoutMs: Math.min(60_000, deadline - Date.now()),
		});
		await rename(staging, cacheDir);
	} finally {
		await rm(staging, {recursive: true, force: true});
	}
}

async function stubWebRtc(dir: string): Promise<void> {
	const binding = path.join(
		dir,
		'node_modules',
		'node-datachannel',
		'dist',
		'esm',
		'lib',
		'node-datachannel.mjs',
	);
	const text = await readFile(binding, 'utf8').catch(() => undefined);
	if (text === undefined || !text.includes('build/Release/node_datachannel.node')) {
		// This WebTorrent does not reach node-datachannel's native binding: nothing to stub.
		return;
	}

	if (!text.includes(bindingLine)) {
		throw new Error(`${binding} loads its native binding in a way this helper does not know how to stub`);
	}

	await writeFile(binding, text.replace(bindingLine, bindingStub));
}

function run(command: string, args: string[], {cwd, timeoutMs}: {cwd: string; timeoutMs: number}) {
	return new Promise<void>((resolve, reject) => {
		execFile(
			command,
			args,
			{cwd, timeout: Math.max(1, timeoutMs), killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024},
			(error, _stdout, stderr) => {
				if (error) {
					reject(new Error(`${command} ${args.join(' ')} failed in ${cwd}: ${error.message}\n${stderr}`));
				} else {
					resolve();
				}
			},
		);
	});
}

/** A line webtorrent-peer.mjs printed. */
export type WebTorrentLine =
	| {type: 'ready'; port: number; infoHash: string}
	| {
			type: 'wire';
			peer: string;
			direction: 'incoming' | 'outgoing';
			/** An MSE/PE handshake came first; `protection` is what it chose for the rest. */
			mse: boolean;
			protection: 'rc4' | 'plaintext';
	  }
	| {type: 'done'}
	| {type: 'error'; message: string};

export type WebTorrentPeer = {
	child: ChildProcess;
	port: number;
	infoHash: string;
	/** Every line so far. */
	lines(): WebTorrentLine[];
	/**
	 * Resolves with the first line (so far or to come) `predicate` holds for; rejects when the
	 * process ends first or after `timeoutMs`.
	 */
	waitFor<Line extends WebTorrentLine>(
		predicate: (line: WebTorrentLine) => line is Line,
		{timeoutMs}: {timeoutMs: number},
	): Promise<Line>;
	/** Everything written to stderr so far. */
	stderr(): string;
	stop(): Promise<void>;
};

/**
 * Starts WebTorrent seeding (`seed`: the payload is in `dir` already) or downloading (`download`
 * into `dir`) `torrentPath`, listening on `port` (or one the kernel picks); resolves once it
 * printed `ready`: listening and, for a seeder, every piece checked. It is killed when the test
 * ends.
 */
export async function startWebTorrent(
	t: Teardown,
	{
		mode,
		torrentPath,
		dir,
		port,
		readyTimeoutMs = 30_000,
	}: {mode: 'seed' | 'download'; torrentPath: string; dir: string; port?: number; readyTimeoutMs?: number},
): Promise<WebTorrentPeer> {
	const index = await ensureWebTorrent();
	const child = track(
		spawn(process.execPath, [peerScript, index, JSON.stringify({mode, torrentPath, dir, port})], {
			stdio: ['ignore', 'pipe', 'pipe'],
		}),
	);
	const stop = () => killProcess(child);
	t.teardown(stop);
	const {lines, waitFor, stderr} = watchLines(child);
	try {
		const ready = await waitFor(
			(line): line is Extract<WebTorrentLine, {type: 'ready' | 'error'}> =>
				line.type === 'ready' || line.type === 'error',
			{timeoutMs: readyTimeoutMs},
		);
		if (ready.type !== 'ready') {
			throw new Error(`WebTorrent failed to start: ${JSON.stringify(ready)}`);
		}

		return {
			child,
			port: ready.port,
			infoHash: ready.infoHash,
			lines,
			waitFor,
			stderr,
			stop,
		};
	} catch (error) {
		await stop();
		throw error;
	}
}

/** The JSON lines `child` prints on stdout, and what it writes on stderr, as they come. */
function watchLines(child: ChildProcess): Pick<WebTorrentPeer, 'lines' | 'waitFor' | 'stderr'> {
	const lines: WebTorrentLine[] = [];
	const waiters = new Set<() => void>();
	let stdout = '';
	let stderr = '';
	let ended: string | undefined;
	const wakeAll = () => {
		for (const wake of waiters) {
			wake();
		}
	};

	child.stdout?.on('data', (chunk: Buffer) => {
		stdout += chunk.toString();
		const end = stdout.lastIndexOf('\n') + 1;
		for (const line of stdout.slice(0, end).split('\n').filter(Boolean)) {
			try {
				lines.push(JSON.parse(line) as WebTorrentLine);
			} catch {
				// Not one of webtorrent-peer.mjs's lines: something in WebTorrent printed it. Keep it for the report.
				stderr += `stdout: ${line}\n`;
			}
		}

		stdout = stdout.slice(end);
		wakeAll();
	});
	child.stderr?.on('data', (chunk: Buffer) => {
		stderr += chunk.toString();
	});
	child.once('error', (error) => {
		ended = `cannot start WebTorrent: ${error.message}`;
		wakeAll();
	});
	// `close`, not `exit`: by then stdout has been read to its end.
	child.once('close', (code, signal) => {
		ended = `WebTorrent exited (${code ?? signal})`;
		wakeAll();
	});

	const describe = () =>
		`stdout:\n${lines.map((line) => JSON.stringify(line)).join('\n')}\nstderr:\n${stderr.slice(-4000)}`;
	const waitFor = <Line extends WebTorrentLine>(
		predicate: (line: WebTorrentLine) => line is Line,
		{timeoutMs}: {timeoutMs: number},
	) =>
		new Promise<Line>((resolve, reject) => {
			const finish = (settle: () => void) => {
				clearTimeout(timer);
				waiters.delete(check);
				settle();
			};

			const check = () => {
				const found = lines.find(predicate);
				if (found) {
					finish(() => resolve(found));
				} else if (ended !== undefined) {
					finish(() => reject(new Error(`${ended} before the awaited line; ${describe()}`)));
				}
			};

			const timer = setTimeout(
				() =>
					finish(() =>
						reject(new Error(`no awaited line from WebTorrent within ${timeoutMs} ms; ${describe()}`)),
					),
				timeoutMs,
			);
			waiters.add(check);
			check();
		});

	return {lines: () => [...lines], waitFor, stderr: () => stderr};
}
