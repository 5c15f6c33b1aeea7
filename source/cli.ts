#!/usr/bin/env node
import net from 'node:net';
import path from 'node:path';
import process from 'node:process';
import v8 from 'node:v8';
import meow from 'meow';
import {printable} from './codec/printable.js';
import {createTorrentFile} from './commands/create.js';
import {demoCommand} from './commands/demo.js';
import {downloadCommand, replayCommand} from './commands/download.js';
import {infoCommand} from './commands/info.js';
import {type ShowOptions, type ViewMode, viewModes} from './commands/show-run.js';
import {describeError, MetainfoError, UsageError} from './errors.js';
import {defaultDhtBootstrap} from './peer/dht.js';
import {type EncryptionPolicy, encryptionPolicies} from './peer/encryption-policy.js';

// V8 lets the old generation grow to about four times what survived the last full collection
// before it collects again. A download promotes a steady stream of short-lived piece
// bookkeeping, so that was garbage: with 100,000 small pieces the process peaked at 260 MB
// for some 30 MB live. Collecting at one and a half times keeps the peak near 190 MB for about
// the same CPU (the live heap is small, so a full collection takes a few milliseconds).
v8.setFlagsFromString('--heap-growing-percent=50');

const usage = `
	Usage
	  $ torrent-rx <file.torrent or magnet link> [options]  download (and seed) a torrent
	  $ torrent-rx create <file or folder> [options]  make a .torrent
	  $ torrent-rx info <file.torrent or magnet link> [--json]  what a torrent holds
	  $ torrent-rx demo [options]                  a whole swarm on this machine, offline

	Download options
	  -o, --output DIR      Folder to download into (default: the current folder)
	  --max-peers N         Peers to connect to at once (default: 50)
	  --port N              Port to listen on for peers (default: 6881, or a free one if taken)
	  --seed                Keep seeding after the download (until Ctrl-C or a limit below)
	  --seed-ratio R        Stop seeding after uploading R times the torrent's size (implies --seed)
	  --seed-time MIN       Stop seeding after MIN minutes (implies --seed)
	  --dht-bootstrap LIST  DHT nodes to join through, host:port,... (default: the well-known routers)
	  --no-dht              Find peers through trackers (and peers) only, not the DHT
	  --lsd                 Also find peers on the local network (BEP 14 multicast)
	  --encryption MODE     MSE/PE, both ways: prefer (the default: encrypted handshakes first,
	                        plaintext if the peer hangs up on one), require (RC4 only), allow
	                        (plaintext first, encrypted peers taken), off (plaintext only)
	  --select LIST         Download only these files: numbers as info prints them (1,3-5) or globs
	                        ('*.mkv'; without a / a glob matches the name in any folder); repeatable.
	                        Without --select or --exclude a run takes the last run's selection
	                        (from its resume file), or every file; --select '*' takes them all again
	  --exclude LIST        Leave these files out (the same forms; repeatable)
	  --no-web-seeds        Download from peers only, not from the torrent's web seeds (BEP 19)
	  --history FILE        Append the run's events to FILE (default: DIR/history.log)
	  --no-history          Record no history

	Replay options
	  --replay [FILE]       Replay the last run of a history log (default: DIR/history.log)
	  --replay-speed X      Replay X times faster (default: 1)

	Create options
	  -o, --output FILE     Where to write the torrent (default: <name>.torrent)
	  --tracker URL         A tracker (repeat for more; each becomes its own tier)
	  --web-seed URL        A web seed (BEP 19), an http(s) URL: of the file itself, or of the
	                        folder that holds the torrent's file or folder (repeat for more)
	  --piece-length BYTES  Piece length, a power of two (default: about 1,000-2,000 pieces)
	  --private             Mark the torrent private (BEP 27)
	  --comment TEXT        A comment stored in the torrent

	Info options
	  --json                One JSON object instead of text, for scripts

	Demo options
	  --size MB             Payload size in megabytes (default: 256)
	  --seeders N           Seeders in the swarm (default: 3)
	  --keep                Keep the temporary folder with payload, torrent and download

	View options (download, replay and demo)
	  -m, --mode MODE       ink: a live table of peers (the default on a terminal; ncurses is an alias)
	                        minimal: one status line (the default when output is not a terminal)
	                        web: a live page on 127.0.0.1 (and the status line)
	  --web-port N          Port for --mode web (default: 3000)
	  --web-host HOST       Address for --mode web (default: 127.0.0.1; others are warned about)
	  --metrics-port N      Serve Prometheus metrics on 127.0.0.1:N/metrics (default: 5000)
	  --metrics-host HOST   Address for the metrics (default: 127.0.0.1; others are warned about)
	  --no-metrics          Serve no metrics
	  --debug               Show stack traces and every event (JSON lines on stderr)
	  --help, --version

	Examples
	  $ torrent-rx debian.iso.torrent -o ~/Downloads
	  $ torrent-rx create ~/photos --tracker http://tracker.example/announce
	  $ torrent-rx demo --size 64
		`;

/**
 * The command line, parsed; a value meow refuses (a `--mode` or `--encryption` it does not know)
 * is one line and exit 2 like any bad input, not the stack trace meow throws with.
 */
function parseCommandLine() {
	try {
		return meow(usage, {
			importMeta: import.meta,
			allowUnknownFlags: false,
			flags: {
				output: {type: 'string', shortFlag: 'o'},
				maxPeers: {type: 'number', default: 50},
				port: {type: 'number', default: 6881},
				seed: {type: 'boolean', default: false},
				seedRatio: {type: 'number'},
				seedTime: {type: 'number'},
				history: {type: 'string'},
				dht: {type: 'boolean', default: true},
				lsd: {type: 'boolean', default: false},
				encryption: {type: 'string', default: 'prefer', choices: [...encryptionPolicies]},
				dhtBootstrap: {type: 'string'},
				replay: {type: 'string'},
				replaySpeed: {type: 'number', default: 1},
				mode: {type: 'string', shortFlag: 'm', choices: [...viewModes]},
				webPort: {type: 'number', default: 3000},
				webHost: {type: 'string', default: '127.0.0.1'},
				metrics: {type: 'boolean', default: true},
				metricsPort: {type: 'number', default: 5000},
				metricsHost: {type: 'string', default: '127.0.0.1'},
				tracker: {type: 'string', isMultiple: true},
				webSeed: {type: 'string', isMultiple: true},
				select: {type: 'string', isMultiple: true},
				webSeeds: {type: 'boolean', default: true},
				exclude: {type: 'string', isMultiple: true},
				pieceLength: {type: 'number'},
				private: {type: 'boolean', default: false},
				comment: {type: 'string'},
				size: {type: 'number', default: 256},
				seeders: {type: 'number', default: 3},
				keep: {type: 'boolean', default: false},
				debug: {type: 'boolean', default: false},
				json: {type: 'boolean', default: false},
			},
		});
	} catch (error) {
		process.stderr.write(`torrent-rx: ${printable(describeError(error).replaceAll('\n', '; '), 2000)}\n`);
		process.exit(2);
	}
}

const cli = parseCommandLine();

/** Exit codes: 1 for a failed run, 2 for a command line or input we cannot use, 130 when interrupted. */
const exitCodes = {failed: 1, badInput: 2, interrupted: 130} as const;

function check(problems: Array<string | false>): void {
	const found = problems.filter((problem): problem is string => problem !== false);
	if (found.length > 0) {
		throw new UsageError(found.join('; '));
	}
}

const isWhole = (value: number, min: number, max = Number.MAX_SAFE_INTEGER) =>
	Number.isInteger(value) && value >= min && value <= max;

async function create(target: string | undefined): Promise<void> {
	check([!target && 'give a file or folder to make a torrent of']);
	const {output, tracker, webSeed, pieceLength, comment} = cli.flags;
	const file = await createTorrentFile({
		target: target ?? '',
		trackers: tracker ?? [],
		webSeeds: webSeed ?? [],
		private: cli.flags.private,
		...(output ? {output} : {}),
		...(pieceLength === undefined ? {} : {pieceLength}),
		...(comment ? {comment} : {}),
		...(process.stderr.isTTY ? {progress: (line: string) => process.stderr.write(`\r\u001B[2K${line}`)} : {}),
	});
	if (process.stderr.isTTY) {
		process.stderr.write('\r\u001B[2K');
	}

	process.stdout.write(`${file}\n`);
}

async function demo(): Promise<void> {
	const {size, seeders, keep} = cli.flags;
	const {history} = cli.flags as {history?: string | false};
	check([
		!(size > 0 && size <= 1_000_000) && '--size must be a positive number of megabytes',
		!isWhole(seeders, 1, 20) && '--seeders must be a whole number from 1 to 20',
	]);
	const {completed} = await demoCommand(
		{
			sizeBytes: Math.round(size * 1e6),
			seeders,
			keep,
			...(history === undefined ? {} : {historyFile: history}),
			show: showOptions(),
		},
		exitCodes.interrupted,
	);
	process.exitCode = completed ? 0 : exitCodes.interrupted;
}

async function replay(file: string): Promise<void> {
	const {replaySpeed, output} = cli.flags;
	check([!(replaySpeed > 0) && '--replay-speed must be a positive number']);
	await replayCommand(
		{file: file || path.join(output ?? '.', 'history.log'), speed: replaySpeed, show: showOptions()},
		exitCodes.interrupted,
	);
}

/** The view (`--mode`, by default the Ink table on a terminal), the web port and the metrics address. */
function showOptions(): ShowOptions {
	const {mode, webPort, webHost, metrics, metricsPort, metricsHost, debug} = cli.flags;
	check([
		!isWhole(metricsPort, 1, 65_535) && '--metrics-port must be between 1 and 65535',
		!isWhole(webPort, 1, 65_535) && '--web-port must be between 1 and 65535',
		!isHost(webHost) && '--web-host takes an IP address or a host name',
		!isHost(metricsHost) && '--metrics-host takes an IP address or a host name',
	]);
	const chosenMode = (mode as ViewMode | undefined) ?? (process.stdout.isTTY ? 'ink' : 'minimal');
	if (chosenMode === 'web') {
		warnIfExposed('the web view', webHost, webPort);
	}

	if (metrics) {
		warnIfExposed('the metrics', metricsHost, metricsPort);
	}

	return {
		debug,
		mode: chosenMode,
		web: {host: webHost, port: webPort},
		...(metrics ? {metrics: {host: metricsHost, port: metricsPort}} : {}),
	};
}

const isHost = (host: string) =>
	net.isIP(host) !== 0 || /^[a-z\d]([a-z\d-]*[a-z\d])?(\.[a-z\d]([a-z\d-]*[a-z\d])?)*$/i.test(host);

/** Neither view nor metrics asks for a password: serving them beyond this machine is the user's call, made knowingly. */
function warnIfExposed(what: string, host: string, port: number): void {
	const loopback = host === 'localhost' || host === '::1' || /^127\./.test(host);
	if (!loopback) {
		process.stderr.write(
			`torrent-rx: warning: ${what} on ${host}:${port} can be reached from other machines, with no password\n`,
		);
	}
}

/** The DHT's bootstrap nodes, or undefined with `--no-dht`. */
function dhtNodes(): string[] | undefined {
	const {dht, dhtBootstrap} = cli.flags;
	if (!dht) {
		return undefined;
	}

	if (dhtBootstrap === undefined) {
		return defaultDhtBootstrap;
	}

	const nodes = dhtBootstrap
		.split(',')
		.map((node) => node.trim())
		.filter(Boolean);
	check([
		(nodes.length === 0 ||
			!nodes.every((node) => /^[^\s:]+:\d{1,5}$|^\[[0-9a-f:.]+\]:\d{1,5}$/i.test(node))) &&
			'--dht-bootstrap takes host:port,host:port,...',
	]);
	return nodes;
}

/** `--history FILE`, `--no-history` (meow gives false), or the default beside the download. */
function historyFile(outputDir: string): string | undefined {
	const {history} = cli.flags as {history?: string | false};
	return history === false ? undefined : history || path.join(outputDir, 'history.log');
}

async function download(): Promise<void> {
	const {maxPeers, port, seed, seedRatio, seedTime, output} = cli.flags;
	check([
		cli.input.length !== 1 &&
			(cli.input.length === 0
				? 'give a .torrent file or a magnet link'
				: 'give exactly one .torrent file or magnet link'),
		!isWhole(maxPeers, 1) && '--max-peers must be a whole number of at least 1',
		!isWhole(port, 0, 65_535) && '--port must be between 0 and 65535',
		seedRatio !== undefined && !(seedRatio > 0) && '--seed-ratio must be a positive number',
		seedTime !== undefined && !(seedTime > 0) && '--seed-time must be a positive number of minutes',
	]);
	const seeding = seed || seedRatio !== undefined || seedTime !== undefined;
	const dht = dhtNodes();
	const history = historyFile(output ?? '.');
	const outcome = await downloadCommand(
		{
			torrent: cli.input[0] ?? '',
			...(dht ? {dht: {bootstrap: dht}} : {}),
			...(cli.flags.lsd ? {lsd: true} : {}),
			encryption: cli.flags.encryption as EncryptionPolicy,
			...(cli.flags.select || cli.flags.exclude
				? {selection: {select: cli.flags.select ?? [], exclude: cli.flags.exclude ?? []}}
				: {}),
			outputDir: output ?? '.',
			...(cli.flags.webSeeds ? {} : {webSeeds: false}),
			...(history ? {historyFile: history} : {}),
			port,
			maxPeers,
			show: showOptions(),
			...(seeding
				? {
						seed: {
							...(seedRatio === undefined ? {} : {ratio: seedRatio}),
							...(seedTime === undefined ? {} : {timeMs: seedTime * 60_000}),
						},
					}
				: {}),
		},
		exitCodes.interrupted,
	);
	process.exitCode =
		outcome === 'completed' ? 0 : outcome === 'interrupted' ? exitCodes.interrupted : exitCodes.failed;
}

try {
	const [command, ...rest] = cli.input;
	if (cli.flags.replay !== undefined) {
		await replay(cli.flags.replay);
	} else if (command === 'create') {
		await create(rest[0]);
	} else if (command === 'info') {
		check([rest.length !== 1 && 'give one .torrent file or magnet link to describe']);
		process.stdout.write(await infoCommand(rest[0] ?? '', {json: cli.flags.json}));
	} else if (command === 'demo') {
		await demo();
	} else {
		await download();
	}
} catch (error) {
	// A message can quote a stranger's text (a path in the torrent, a tracker's reason): no
	// escape sequence may reach the terminal through it.
	process.stderr.write(`torrent-rx: ${printable(describeError(error), 2000)}\n`);
	if (cli.flags.debug && error instanceof Error) {
		const stack = (error.stack ?? '').split('\n').map((line) => printable(line, 2000));
		process.stderr.write(`${stack.join('\n')}\n`);
	}

	process.exitCode =
		error instanceof UsageError || error instanceof MetainfoError ? exitCodes.badInput : exitCodes.failed;
}

// Sockets and the final `stopped` announce close on their own; never hang on a stray handle.
setTimeout(() => process.exit(), 5000).unref();
