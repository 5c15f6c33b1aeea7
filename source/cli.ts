#!/usr/bin/env node
import {readFile} from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import meow from 'meow';
import {fromEvent, map, merge, scan, share, take, takeUntil, tap} from 'rxjs';
import {parseMetainfo} from './codec/metainfo.js';
import {generatePeerId} from './codec/peer-id.js';
import {describeError, MetainfoError, UsageError} from './errors.js';
import type {RunEvent, TimedEvent} from './events/events.js';
import {initialRunState, reduceRunState} from './events/run-state.js';
import {hashOnMainThread} from './hashing/sha1.js';
import {connectTcp} from './peer/socket.js';
import {download} from './pipeline/download.js';
import {defaultWindowOptions} from './pipeline/peer-downloader.js';
import {openPieceStore} from './storage/disk.js';
import {announceHttp} from './tracker/http.js';
import {shuffleTiers} from './tracker/tiers.js';
import {minimalView} from './ui/minimal.js';

const cli = meow(
	`
	Usage
	  $ torrent-rx <file.torrent> [options]

	Options
	  -o, --output DIR   Folder to download into (default: the current folder)
	  --max-peers N      Peers to connect to at once (default: 50)
	  --port N           Port announced to trackers (default: 6881)
	  --debug            Show stack traces and every event
	  --help             Show this help
	  --version          Show the version

	Examples
	  $ torrent-rx debian.iso.torrent -o ~/Downloads
`,
	{
		importMeta: import.meta,
		allowUnknownFlags: false,
		flags: {
			output: {type: 'string', shortFlag: 'o', default: '.'},
			maxPeers: {type: 'number', default: 50},
			port: {type: 'number', default: 6881},
			debug: {type: 'boolean', default: false},
		},
	},
);

/** Exit codes: 1 for a failed run, 2 for a command line or input we cannot use, 130 when interrupted. */
const exitCodes = {failed: 1, badInput: 2, interrupted: 130} as const;

function validateFlags(): void {
	const problems: string[] = [];
	if (cli.input.length !== 1) {
		problems.push(cli.input.length === 0 ? 'give a .torrent file' : 'give exactly one .torrent file');
	}

	if (!Number.isInteger(cli.flags.maxPeers) || cli.flags.maxPeers < 1) {
		problems.push('--max-peers must be a whole number of at least 1');
	}

	if (!Number.isInteger(cli.flags.port) || cli.flags.port < 1 || cli.flags.port > 65_535) {
		problems.push('--port must be between 1 and 65535');
	}

	if (problems.length > 0) {
		throw new UsageError(problems.join('; '));
	}
}

async function readTorrent(file: string) {
	let bytes: Buffer;
	try {
		bytes = await readFile(file);
	} catch (error) {
		throw new MetainfoError(`cannot read ${file}`, {cause: error});
	}

	try {
		return parseMetainfo(bytes);
	} catch (error) {
		throw error instanceof MetainfoError
			? new MetainfoError(`${file}: ${error.message}`, {cause: error.cause})
			: error;
	}
}

function fail(error: unknown): void {
	process.stderr.write(`torrent-rx: ${describeError(error)}\n`);
	if (cli.flags.debug && error instanceof Error) {
		process.stderr.write(`${error.stack ?? ''}\n`);
	}

	process.exitCode =
		error instanceof UsageError || error instanceof MetainfoError ? exitCodes.badInput : exitCodes.failed;
}

async function main(): Promise<void> {
	validateFlags();
	const torrentFile = cli.input[0] ?? '';
	const metainfo = await readTorrent(torrentFile);
	if (metainfo.announceTiers.length === 0) {
		throw new MetainfoError(
			`${torrentFile} names no tracker (trackerless torrents need DHT, not supported yet)`,
		);
	}

	const outputDir = path.resolve(cli.flags.output);
	const interrupt$ = merge(fromEvent(process, 'SIGINT'), fromEvent(process, 'SIGTERM')).pipe(
		take(1),
		share(),
	);
	let interrupted = false;
	interrupt$.subscribe(() => {
		interrupted = true;
		process.stderr.write('\ntorrent-rx: stopping (press Ctrl-C again to quit at once)\n');
		process.once('SIGINT', () => process.exit(exitCodes.interrupted));
	});

	const events$ = download(
		metainfo,
		{
			announce: (url, request) => announceHttp(url, request, {timeoutMs: 15_000}),
			connect: connectTcp({connectTimeoutMs: 10_000}),
			hashPiece: hashOnMainThread,
			openStore: (layout) => openPieceStore(layout, outputDir),
		},
		{
			peerId: generatePeerId(),
			port: cli.flags.port,
			maxPeers: cli.flags.maxPeers,
			maxBytesInFlight: 256 * 1024 * 1024,
			window: defaultWindowOptions,
			tickMs: 1000,
			handshakeTimeoutMs: 10_000,
			maxStrikes: 3,
			announceTimeoutMs: 15_000,
			announceRetryMs: 15_000,
			starvingReannounceMs: 30_000,
			numwant: 80,
			trackerTiers: shuffleTiers(metainfo.announceTiers),
		},
	).pipe(takeUntil(interrupt$));

	let completed = false;
	const state$ = events$.pipe(
		map((event: RunEvent): TimedEvent => ({...event, at: Date.now()})),
		tap((event) => {
			completed ||= event.type === 'completed';
			if (cli.flags.debug) {
				process.stderr.write(`${JSON.stringify(event)}\n`);
			}
		}),
		scan(reduceRunState, initialRunState),
	);
	await new Promise<void>((resolve, reject) => {
		minimalView(state$, {interactive: process.stdout.isTTY === true}).subscribe({
			next: (line) => process.stdout.write(line),
			error: reject,
			complete: resolve,
		});
	});
	if (!completed) {
		process.exitCode = interrupted ? exitCodes.interrupted : exitCodes.failed;
	}
}

try {
	await main();
} catch (error) {
	fail(error);
}

// Sockets and the final `stopped` announce close on their own; never hang on a stray handle.
setTimeout(() => process.exit(), 5000).unref();
