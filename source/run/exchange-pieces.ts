import {defer, EMPTY, filter, map, merge, type Observable, pairwise, Subject} from 'rxjs';
import type {Bitfield} from '../codec/bitfield.js';
import type {Metainfo} from '../codec/metainfo.js';
import {PieceBufferPool} from '../download/piece-buffers.js';
import {PiecePicker} from '../download/piece-picker.js';
import {PieceSignals} from '../download/piece-signals.js';
import {wantedForFiles} from '../download/wanted-files.js';
import type {RunEvent} from '../events/events.js';
import {withResource} from '../rx/with-resource.js';
import type {PieceStore} from '../storage/disk.js';
import type {StorageLayout} from '../storage/layout.js';
import type {ResumeStore} from '../storage/resume-file.js';
import {swarm} from '../swarm/swarm.js';
import type {PeerStats, SwarmShared} from '../swarm/swarm-context.js';
import {verifyAndStore} from '../verify/verify-and-store.js';
import {type WebSeedContext, type WebSeedPort, webSeed} from '../webseed/web-seed.js';
import {announcing} from './announcing.js';
import type {DownloadOptions, DownloadPorts} from './download-options.js';
import {savingResume} from './resume-saves.js';
import {swarmContextFor} from './swarm-context-for.js';
import {swarmLink} from './swarm-link.js';
import {swarmPortsFor} from './swarm-ports-for.js';
import {unchoking} from './unchoking.js';
import {untilDone} from './until-done.js';

/** The open files of a run and what the check found in them. */
export type OpenedRun = {store: PieceStore; have: Bitfield; resume: ResumeStore | undefined};

/** The download's piece picker over what the check left missing. */
function pickerFor(layout: StorageLayout, have: Bitfield, signals: PieceSignals, options: DownloadOptions) {
	// A selection of files wants only the pieces that hold their bytes.
	const wanted = options.selected && wantedForFiles(layout, options.selected);
	return new PiecePicker((index) => layout.pieceSize(index), layout.pieceCount, {
		...(wanted ? {wanted} : {}),
		maxBytesInFlight: options.maxBytesInFlight,
		have,
		listener: signals,
		checkInvariants: options.checkInvariants === true,
		// Idle buffers up to the in-flight budget (`maxBytesInFlight`, not a fixed figure): a
		// buffer dropped is garbage that V8 frees late, so none is ever dropped, and the pieces
		// in flight bound the whole pool.
		buffers: new PieceBufferPool(options.maxBytesInFlight),
		// Pad files' bytes (BEP 47) are never asked for, nor counted as the user's.
		...(layout.hasPadFiles
			? {
					knownZeros: (index: number) => layout.padRanges(index),
					userBytes: (index: number) => layout.userBytes(index),
				}
			: {}),
	});
}

/** Every web seed of the torrent (BEP 19) as a source of pieces beside the swarm, for as long as the run. */
function webSeedsOf(
	ports: DownloadPorts,
	options: DownloadOptions,
	layout: StorageLayout,
	contextFor: (port: WebSeedPort) => WebSeedContext,
): Observable<RunEvent> {
	const {openWebSeeds} = ports;
	const seedOptions = options.webSeeds;
	if (!openWebSeeds || !seedOptions) {
		return EMPTY;
	}

	return withResource(openWebSeeds(layout), (seeds) =>
		merge(...seeds.map((port) => webSeed(port, contextFor(port), seedOptions))),
	);
}

/** The user's bytes in the pieces wanted: what a complete run holds, and what a seed ratio is of. */
function wantedLength(layout: StorageLayout, picker: PiecePicker): number {
	if (picker.wanted.uniform) {
		return layout.userLength;
	}

	let bytes = 0;
	for (let index = 0; index < layout.pieceCount; index++) {
		bytes += picker.wanted.isWanted(index) || picker.have.has(index) ? layout.userBytes(index) : 0;
	}

	return bytes;
}

/**
 * The part of a run after the check: a piece picker over what is missing, the choker, the
 * tracker loop and the swarm, wired to one another, until done (see `untilDone`) with the
 * resume file kept up to date (see `savingResume`). Every subscription makes all of them anew.
 */
export function exchangePieces(
	metainfo: Metainfo,
	layout: StorageLayout,
	ports: DownloadPorts,
	options: DownloadOptions,
	{store, have, resume}: OpenedRun,
): Observable<RunEvent> {
	return defer(() => {
		const signals = new PieceSignals();
		const picker = pickerFor(layout, have, signals, options);
		const completed$ = new Subject<void>();
		const nudgeChoker$ = new Subject<void>();
		const peers = new Map<string, PeerStats>();
		const totals = {uploaded: 0};
		const shared: SwarmShared = {
			picker,
			peers,
			unchoked$: unchoking(picker, peers, nudgeChoker$, options),
			interestChanged: () => nudgeChoker$.next(),
			totals,
		};
		const link = swarmLink();
		const context = swarmContextFor(metainfo, options, shared, link.dialable);
		const {tracker$, addresses$} = announcing(
			ports.announce,
			ports.morePeers$,
			{uploaded: () => totals.uploaded, doneBytes: () => picker.doneBytes, whole: () => picker.have.complete},
			{completed$, activePeers$: link.activePeers$},
			{
				...options,
				infoHash: metainfo.infoHash,
				totalLength: layout.userLength,
				seeding: options.seed !== undefined,
			},
		);
		const swarmPorts = swarmPortsFor(metainfo, ports, store, picker, options.readCacheBytes);
		const peerSwarm = swarm(addresses$, ports.incoming$, swarmPorts, context, {
			maxPeers: options.maxPeers,
			redialDelayMs: options.redialDelayMs,
			maxRedials: options.maxRedials,
			self: {host: '127.0.0.1', port: options.port},
		});
		link.bind(peerSwarm);
		const starving$ = peerSwarm.activePeers$.pipe(
			pairwise(),
			filter(([before, now]) => before > 0 && now === 0 && !picker.complete),
			map((): RunEvent => ({type: 'no-peers'})),
		);
		const webSeeds$ = webSeedsOf(ports, options, layout, (port) => ({
			layout,
			picker,
			verify: (piece) => verifyAndStore(piece, port.seed, swarmPorts, context),
		}));
		const sources$ = merge(peerSwarm.events$, webSeeds$);
		const run$ = untilDone({tracker$, swarm$: sources$, starving$}, completed$, {
			...(options.seed ? {seed: options.seed} : {}),
			totalLength: wantedLength(layout, picker),
			completeAtStart: picker.complete,
			uploaded: () => totals.uploaded,
		});
		// The picker's Subjects are read here alone: `verified$` paces the resume saves.
		return run$.pipe(
			savingResume(resume, {
				have: picker.have,
				verified$: signals.verified$,
				completed$,
				...(options.scheduler ? {scheduler: options.scheduler} : {}),
			}),
		);
	});
}
