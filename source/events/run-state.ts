import type {TimedEvent} from './events.js';
import {type FileProgress, FileProgressDraft, type SelectionSummary, selectionOf} from './file-progress.js';
import {countConnected, PeerMapDraft, type PeerState} from './peer-state.js';
import {addBytes, emptyRateWindow, type RateWindow, rate, slide} from './rate-window.js';

export type {FileProgress, SelectionSummary} from './file-progress.js';
export type {PeerState, PeerStatus} from './peer-state.js';
export {rateWindowMs} from './rate-window.js';

/** What a view shows, folded from the event stream and nothing else. */
export type RunState = {
	name: string;
	pieceCount: number;
	pieceLength: number;
	piecesDone: number;
	totalLength: number;
	bytesDone: number;
	/** The user's files with their progress; empty for logs from before they were recorded. */
	files: readonly FileProgress[];
	/** What is selected, when not every file is. */
	selection: SelectionSummary | undefined;
	/** Every peer we are connecting or connected to, by address, in the order first seen. */
	peers: ReadonlyMap<string, PeerState>;
	/** Peers past the handshake. */
	connectedPeers: number;
	/** Verified bytes in the rate window. */
	recent: RateWindow;
	/** Bytes a second over the rate window, as of the last event. */
	downloadRate: number;
	/** Seconds left at the current rate; undefined when nothing is arriving or nothing is left. */
	etaSeconds: number | undefined;
	/** Resume check progress: pieces checked of those to check. */
	checked: number;
	toCheck: number;
	bytesUploaded: number;
	recentUploads: RateWindow;
	uploadRate: number;
	phase: 'starting' | 'fetching-metadata' | 'checking' | 'downloading' | 'starving' | 'completed' | 'seeding';
	/**
	 * Checks done, completions and seeding starts folded so far: a view that prints only now and
	 * then (the status line in a pipe) prints a line at once when this changes.
	 */
	milestones: number;
	/** The last tracker answer (how many peers it gave) or failure (why), for the views' header. */
	tracker: {host: string; peers: number} | {host: string; failure: string} | undefined;
	/** When the run started: until a whole rate window has passed, rates divide by the time since. */
	startedAt: number;
	/** The time of the last event folded in. */
	now: number;
};

export const initialRunState: RunState = {
	name: '',
	pieceCount: 0,
	pieceLength: 0,
	piecesDone: 0,
	totalLength: 0,
	bytesDone: 0,
	files: [],
	selection: undefined,
	peers: new Map(),
	connectedPeers: 0,
	recent: emptyRateWindow,
	downloadRate: 0,
	etaSeconds: undefined,
	checked: 0,
	toCheck: 0,
	bytesUploaded: 0,
	recentUploads: emptyRateWindow,
	uploadRate: 0,
	phase: 'starting',
	milestones: 0,
	tracker: undefined,
	startedAt: 0,
	now: 0,
};

/** The run-state reducer: pure, so `scan` can fold it and replay can rebuild it exactly. */
export function reduceRunState(state: RunState, event: TimedEvent): RunState {
	return foldRunEvents(state, [event]);
}

/**
 * Folds a batch of events at once, as `reduceRunState` would one by one; but the state and
 * each peer that changes are copied once per batch rather than once per event, so a view that
 * takes the state ten times a second costs next to nothing per piece.
 */
export function foldRunEvents(state: RunState, events: readonly TimedEvent[]): RunState {
	const last = events.at(-1);
	if (!last) {
		return state;
	}

	const next: RunState = {...state};
	const peers = new PeerMapDraft(state.peers);
	const files = new FileProgressDraft(state.files);
	for (const event of events) {
		peers.apply(event);
		applyOverall(next, event);
		applyToFiles(files, next.pieceLength, event);
	}

	next.files = files.finish();
	next.selection = next.files === state.files ? state.selection : selectionOf(next.files);

	// Rates and the peers' windows as of the batch's last event.
	const now = last.at;
	next.now = now;
	next.peers = peers.finish(now);
	next.connectedPeers = next.peers === state.peers ? state.connectedPeers : countConnected(next.peers);
	next.recent = slide(next.recent, now);
	next.recentUploads = slide(next.recentUploads, now);
	next.downloadRate = rate(next.recent, next.startedAt, now);
	next.uploadRate = rate(next.recentUploads, next.startedAt, now);
	const left = next.selection
		? next.selection.bytes - next.selection.done
		: next.totalLength - next.bytesDone;
	next.etaSeconds =
		next.downloadRate > 0 && left > 0 && next.phase !== 'completed' ? left / next.downloadRate : undefined;
	return next;
}

/** Each file's part of the pieces verified, found on disk or, at completion, all of the selected ones. */
function applyToFiles(files: FileProgressDraft, pieceLength: number, event: TimedEvent): void {
	if (event.type === 'started') {
		files.start(event.files);
	} else if (event.type === 'piece-verified') {
		files.addPiece(event.index, pieceLength);
	} else if (event.type === 'checked' && event.have !== undefined) {
		// The wire's layout (BEP 3): the high bit of byte 0 is piece 0. Only as many pieces as the bytes hold.
		const have = Buffer.from(event.have, 'base64');
		for (let index = 0; index < have.length * 8; index++) {
			if (((have[index >> 3] ?? 0) >> (7 - (index & 7))) & 1) {
				files.addPiece(index, pieceLength);
			}
		}
	} else if (event.type === 'completed') {
		files.completeSelected();
	}
}

/** Pieces, bytes and phase of the whole run: changes `state`, the batch's own copy. */
function applyOverall(state: RunState, event: TimedEvent): void {
	const now = event.at;
	switch (event.type) {
		case 'metadata-fetching':
			state.name = event.name ?? event.infoHash;
			state.phase = 'fetching-metadata';
			state.startedAt = now;
			break;
		case 'started':
			state.name = event.name;
			state.pieceCount = event.pieceCount;
			state.pieceLength = event.pieceLength;
			state.totalLength = event.totalLength;
			state.phase = 'downloading';
			state.startedAt = now;
			// Rates start again with the download.
			state.recent = emptyRateWindow;
			state.recentUploads = emptyRateWindow;
			break;
		case 'peer-connected':
			state.phase = state.phase === 'starving' ? 'downloading' : state.phase;
			break;
		case 'piece-verified':
			state.piecesDone++;
			state.bytesDone += event.bytes;
			state.recent = addBytes(state.recent, now, event.bytes);
			break;
		case 'checking':
			state.phase = 'checking';
			state.checked = event.checked;
			state.toCheck = event.total;
			break;
		case 'checked':
			state.piecesDone = event.pieces;
			state.bytesDone = event.bytes ?? estimatedBytes(state, event.pieces);
			state.phase = 'downloading';
			state.milestones++;
			break;
		case 'uploaded':
			state.bytesUploaded += event.bytes;
			state.recentUploads = addBytes(state.recentUploads, now, event.bytes);
			break;
		case 'announce-answered':
			state.tracker = {host: hostOf(event.tracker), peers: event.peers.length + (event.omitted ?? 0)};
			break;
		case 'announce-failed':
			state.tracker = {host: hostOf(event.tracker), failure: event.reason};
			break;
		case 'seeding':
			state.phase = 'seeding';
			state.milestones++;
			break;
		case 'no-peers':
			state.phase = 'starving';
			break;
		case 'completed':
			state.phase = 'completed';
			state.milestones++;
			// A selection of files is complete with what it holds (the event's bytes), not the whole torrent.
			state.bytesDone = Math.max(state.bytesDone, event.bytes);
			break;
		default:
			break;
	}
}

/** Logs recorded before `checked` carried its bytes: as many average pieces. */
function estimatedBytes(state: RunState, pieces: number): number {
	return state.pieceCount > 0 ? Math.round((state.totalLength * pieces) / state.pieceCount) : 0;
}

function hostOf(url: string): string {
	try {
		return new URL(url).host;
	} catch {
		return url;
	}
}
