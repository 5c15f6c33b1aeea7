import {printable} from '../codec/printable.js';
import type {PeerState, RunState} from '../events/run-state.js';
import {type FileList, fileColumns, fileList} from './file-list.js';
import {
	countOf,
	formatBytes,
	formatDuration,
	formatProgress,
	formatRate,
	formatSelection,
	maxNameLength,
} from './format.js';

/**
 * The peer table's columns, as the web page shows them (a narrow terminal leaves out Piece and
 * From). Enc says `rc4` for a peer whose bytes are RC4-encrypted (MSE/PE), as the flags column
 * of uTorrent and qBittorrent says `E`.
 */
export const peerColumns = [
	'Peer',
	'Client',
	'Enc',
	'From',
	'Status',
	'Piece',
	'Downloaded',
	'Down rate',
	'Up rate',
] as const;

/** One row of the peer table, already formatted: the views only lay it out. */
export type PeerRow = {
	address: string;
	cells: readonly string[];
};

/**
 * What every view shows, formatted once: plain JSON, so the web view can send it to browsers
 * as it is and the terminal view can lay it out without doing any arithmetic of its own.
 */
export type RunSnapshot = {
	name: string;
	phase: RunState['phase'];
	/** What the run is doing, in a few words: `downloading`, `checking 12 of 100 pieces`… */
	activity: string;
	/** Verified share of the torrent (of the selected files, when not all are), 0 to 1, and as the views print it. */
	progress: number;
	percent: string;
	pieces: string;
	downloadRate: string;
	uploadRate: string;
	eta: string;
	peers: string;
	tracker: string;
	/** What is selected, `3 of 12 files, 1.4 GB of 9.8 GB`; empty when every file is (or the log does not say). */
	selection: string;
	/** The peer table's column titles, and every peer, fastest first. */
	columns: readonly string[];
	rows: readonly PeerRow[];
	/** The file list's column titles, and the files that have a row (pad files never do). */
	fileColumns: readonly string[];
	files: FileList;
};

function trackerText(tracker: RunState['tracker']): string {
	if (!tracker) {
		return '';
	}

	// The tracker's URL comes from the torrent and its failure text from the tracker.
	return 'failure' in tracker
		? `${printable(tracker.host)}: ${printable(tracker.failure)}`
		: `${countOf(tracker.peers, 'peer')} from ${printable(tracker.host)}`;
}

function activity(state: RunState): string {
	switch (state.phase) {
		case 'checking':
			return `checking ${state.checked} of ${state.toCheck} pieces`;
		case 'starving':
			return 'waiting for peers';
		case 'fetching-metadata':
			return 'fetching metadata';
		default:
			return state.phase;
	}
}

const fastestFirst = (a: PeerState, b: PeerState) =>
	b.downloadRate + b.uploadRate - (a.downloadRate + a.uploadRate) ||
	b.bytesDownloaded - a.bytesDownloaded ||
	a.since - b.since;

/** A web seed (BEP 19) by its host, as the Peer column shows a peer by its address: the URL's path would crowd the table. */
function webSeedHost(url: string): string {
	try {
		return new URL(url).host;
	} catch {
		return url;
	}
}

function peerRow(peer: PeerState): PeerRow {
	const piece = peer.currentPiece;
	// An address can come from a tracker's dictionary reply, a client name from the peer.
	const address = printable(peer.address);
	return {
		address,
		cells: [
			peer.source === 'web-seed' ? printable(webSeedHost(peer.address)) : address,
			printable(peer.client) || '…',
			peer.protection === 'rc4' ? 'rc4' : '',
			printable(peer.source ?? ''),
			peer.status,
			piece === undefined ? '' : String(piece),
			String(peer.piecesDownloaded),
			// The column says it is a rate: `41.2 MB` keeps the table inside 80 columns.
			peer.downloadRate > 0 ? formatBytes(peer.downloadRate) : '',
			peer.uploadRate > 0 ? formatBytes(peer.uploadRate) : '',
		],
	};
}

/** The verified share of what the run downloads: the selected files when not all are, else the torrent. */
function progressOf(state: RunState): number {
	const {selection} = state;
	if (selection) {
		// Selected files of no bytes at all are complete from the start.
		return selection.bytes > 0 ? selection.done / selection.bytes : 1;
	}

	return state.totalLength > 0
		? state.bytesDone / state.totalLength
		: state.pieceCount > 0
			? state.piecesDone / state.pieceCount
			: 0;
}

/** The state as every view shows it: formatted, plain JSON; the file list is formatted only when a file changed. */
export function snapshot(state: RunState): RunSnapshot {
	const progress = progressOf(state);
	return {
		// The torrent's name (or a magnet's dn) is a stranger's text: views show it as it is.
		name: printable(state.name, maxNameLength),
		phase: state.phase,
		activity: activity(state),
		progress: Math.min(1, progress),
		percent: formatProgress(Math.min(1, progress)),
		pieces: `${state.piecesDone} of ${state.pieceCount} pieces`,
		downloadRate: formatRate(state.downloadRate),
		uploadRate: formatRate(state.uploadRate),
		eta: state.etaSeconds === undefined ? '–' : formatDuration(state.etaSeconds),
		peers: countOf(state.connectedPeers, 'peer'),
		tracker: trackerText(state.tracker),
		selection: formatSelection(state.selection),
		columns: peerColumns,
		rows: [...state.peers.values()].sort(fastestFirst).map(peerRow),
		fileColumns,
		files: fileList(state.files),
	};
}
