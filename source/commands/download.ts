import {readFile} from 'node:fs/promises';
import path from 'node:path';
import process from 'node:process';
import {catchError, fromEvent, merge, of, share, take, takeUntil} from 'rxjs';
import {resolveSelection, type SelectionRequest} from '../codec/file-selection.js';
import {isMagnetLink, type MagnetLink, parseMagnetLink} from '../codec/magnet.js';
import {type Metainfo, parseMetainfo} from '../codec/metainfo.js';
import {printable} from '../codec/printable.js';
import {describeError, MetainfoError} from '../errors.js';
import {readLastRun, recordHistory} from '../events/history-log.js';
import {replayEvents} from '../events/replay.js';
import {stampEvents} from '../events/stamp.js';
import {createHashWorkerPool} from '../hashing/worker-pool.js';
import {isLocalAddress} from '../peer/address-scope.js';
import {openDht} from '../peer/dht.js';
import type {EncryptionPolicy} from '../peer/encryption-policy.js';
import type {SeedOptions} from '../run/download.js';
import {withResource} from '../rx/with-resource.js';
import {webSeedUrls} from '../webseed/web-seed-ports.js';
import {runMagnet} from './run-magnet.js';
import {type RunConfig, reservedNameProblem, runTorrent} from './run-torrent.js';
import {type ShowOptions, showRun} from './show-run.js';

export type DownloadCommand = {
	/** A .torrent file's path, or a magnet link. */
	torrent: string;
	/** The DHT's bootstrap nodes (`host:port`); absent: no DHT. */
	dht?: {bootstrap: string[]};
	/** Local service discovery (BEP 14). */
	lsd?: boolean;
	/** MSE/PE, both ways (default: prefer). */
	encryption?: EncryptionPolicy;
	outputDir: string;
	port: number;
	maxPeers: number;
	seed?: SeedOptions;
	/** The history log to append the run's events to; none when absent. */
	historyFile?: string;
	/** How the run is shown: view, metrics, debug output. */
	show: ShowOptions;
	/** `--select` / `--exclude` as given (files numbered as `info` prints them, or globs). */
	selection?: SelectionRequest;
	/** False for `--no-web-seeds`. */
	webSeeds?: boolean;
};

/** The outcome the CLI turns into an exit code. */
export type RunOutcome = 'completed' | 'interrupted' | 'stopped';

export async function readTorrentFile(file: string): Promise<Metainfo> {
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

/** Emits once on the first SIGINT or SIGTERM; a second Ctrl-C quits at once. */
export function interruptSignal(exitCode: number) {
	const interrupt$ = merge(fromEvent(process, 'SIGINT'), fromEvent(process, 'SIGTERM')).pipe(
		take(1),
		share(),
	);
	interrupt$.subscribe(() => {
		process.stderr.write('\ntorrent-rx: stopping (press Ctrl-C again to quit at once)\n');
		process.once('SIGINT', () => process.exit(exitCode));
	});
	return interrupt$;
}

/** A .torrent file read and checked, or a magnet link parsed; either must lead to some peers. */
async function openTorrent(
	torrent: string,
	{dht, webSeeds}: {dht: boolean; webSeeds: boolean},
): Promise<{metainfo: Metainfo} | {magnet: MagnetLink}> {
	if (isMagnetLink(torrent)) {
		const magnet = parseMagnetLink(torrent);
		if (!dht && magnet.trackers.length === 0 && magnet.peers.length === 0) {
			// Its web seeds (ws=) need the metadata first, which only peers can give (BEP 9).
			throw new MetainfoError('the magnet link names no tracker and no peer (tr, x.pe), and the DHT is off');
		}

		return {magnet};
	}

	const metainfo = await readTorrentFile(torrent);
	// A torrent with web seeds (BEP 19) needs neither: an Internet Archive torrent has those alone.
	const hasWebSeeds = webSeeds && webSeedUrls(metainfo).length > 0;
	if (metainfo.announceTiers.length === 0 && !hasWebSeeds && (!dht || metainfo.private)) {
		throw new MetainfoError(
			`${torrent} names no tracker, and ${metainfo.private ? 'a private torrent may not use the' : 'the'} DHT${metainfo.private ? '' : ' is off'}`,
		);
	}

	return {metainfo};
}

/** The DHT for a run, unless it is off or the torrent is private; a DHT that cannot start is a warning. */
function joinDht(command: DownloadCommand, source: {metainfo: Metainfo} | {magnet: MagnetLink}) {
	if (!command.dht || ('metainfo' in source && source.metainfo.private)) {
		return of(undefined);
	}

	return openDht({
		port: command.port,
		host: '0.0.0.0',
		bootstrap: command.dht.bootstrap,
		stateFile: path.join(path.resolve(command.outputDir), '.torrent-rx', 'dht.json'),
	}).pipe(
		catchError((error: unknown) => {
			process.stderr.write(noDhtWarning(error));
			return of(undefined);
		}),
	);
}

/** The warning for a DHT that cannot start, its cause's text (a host name, a system message) made printable like every CLI line. */
export function noDhtWarning(error: unknown): string {
	return `torrent-rx: no DHT: ${printable(describeError(error), 2000)}\n`;
}

/** A DHT bootstrap node (`host:port`, `[v6]:port`) on a local address. */
function isLocalNode(node: string): boolean {
	const host = node.startsWith('[') ? node.slice(1, node.indexOf(']')) : node.slice(0, node.lastIndexOf(':'));
	return isLocalAddress(host);
}

/** `torrent-rx file.torrent` or `torrent-rx 'magnet:?…'`: download (and maybe seed) one torrent with the view. */
export async function downloadCommand(
	command: DownloadCommand,
	interruptedExitCode: number,
): Promise<RunOutcome> {
	const source = await openTorrent(command.torrent, {
		dht: command.dht !== undefined,
		webSeeds: command.webSeeds !== false,
	});
	// A torrent file is judged before the log, the DHT or a socket is opened: a refused torrent
	// leaves nothing behind. A magnet's name is known only once its metadata arrives (runTorrent).
	if ('metainfo' in source) {
		const problem = reservedNameProblem(
			source.metainfo,
			path.resolve(command.outputDir),
			command.historyFile,
		);
		if (problem) {
			throw problem;
		}

		// A selection that names no file, or a number past the last, is a usage error before anything starts.
		if (command.selection) {
			resolveSelection(source.metainfo.files, command.selection);
		}
	}

	let interrupted = false;
	const interrupt$ = interruptSignal(interruptedExitCode);
	interrupt$.subscribe(() => {
		interrupted = true;
	});
	const hashers = createHashWorkerPool();
	try {
		const config: RunConfig = {
			outputDir: path.resolve(command.outputDir),
			port: command.port,
			listenHost: '0.0.0.0',
			maxPeers: command.maxPeers,
			hashPiece: hashers.hashPiece,
			...(command.seed ? {seed: command.seed} : {}),
			...(command.lsd ? {lsd: true} : {}),
			...(command.encryption ? {encryption: command.encryption} : {}),
			...(command.selection ? {selection: command.selection} : {}),
			...(command.webSeeds === false ? {webSeeds: false} : {}),
			// The run refuses a torrent whose files would take the log's place (reserved names).
			...(command.historyFile ? {historyFile: command.historyFile} : {}),
			...(command.dht && command.dht.bootstrap.length > 0 && command.dht.bootstrap.every(isLocalNode)
				? {localDht: true}
				: {}),
		};
		const {completed, quit} = await showRun(
			withResource(joinDht(command, source), (dht) => {
				const withDht = dht ? {...config, dht} : config;
				return 'magnet' in source ? runMagnet(source.magnet, withDht) : runTorrent(source.metainfo, withDht);
			}).pipe(
				takeUntil(interrupt$),
				stampEvents(),
				command.historyFile ? recordHistory(command.historyFile) : (events$) => events$,
			),
			command.show,
		);
		return completed ? 'completed' : interrupted || quit ? 'interrupted' : 'stopped';
	} finally {
		await hashers.close();
	}
}

/** `torrent-rx --replay FILE`: the last run recorded in a history log, into the status view, with no network. */
export async function replayCommand(
	{file, speed, show}: {file: string; speed: number; show: ShowOptions},
	interruptedExitCode: number,
): Promise<void> {
	const events = await readLastRun(file);
	await showRun(replayEvents(events, {speed}).pipe(takeUntil(interruptSignal(interruptedExitCode))), show);
}
