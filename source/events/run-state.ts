import type {TimedEvent} from './events.js';
import {countConnected, type PeerState, reducePeers} from './peer-state.js';
import {addBytes, emptyRateWindow, type RateWindow, rate, slide} from './rate-window.js';

export type {PeerState, PeerStatus} from './peer-state.js';
export {rateWindowMs} from './rate-window.js';

/** What a view shows, folded from the event stream and nothing else. */
export type RunState = {
	name: string;
	pieceCount: number;
	piecesDone: number;
	totalLength: number;
	bytesDone: number;
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
	piecesDone: 0,
	totalLength: 0,
	bytesDone: 0,
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
	tracker: undefined,
	startedAt: 0,
	now: 0,
};

/** The run-state reducer: pure, so `scan` can fold it and replay can rebuild it exactly. */
export function reduceRunState(state: RunState, event: TimedEvent): RunState {
	const now = event.at;
	const peers = reducePeers(state.peers, event);
	const overall = reduceOverall(
		{
			...state,
			now,
			peers,
			connectedPeers: peers === state.peers ? state.connectedPeers : countConnected(peers),
		},
		event,
	);
	const left = overall.totalLength - overall.bytesDone;
	return {
		...overall,
		etaSeconds:
			overall.downloadRate > 0 && left > 0 && overall.phase !== 'completed'
				? left / overall.downloadRate
				: undefined,
	};
}

/** Pieces, bytes, rates and phase of the whole run. */
function reduceOverall(state: RunState, event: TimedEvent): RunState {
	const now = event.at;
	const recent = slide(state.recent, now);
	const recentUploads = slide(state.recentUploads, now);
	const next: RunState = {
		...state,
		recent,
		recentUploads,
		downloadRate: rate(recent, state.startedAt, now),
		uploadRate: rate(recentUploads, state.startedAt, now),
	};
	switch (event.type) {
		case 'metadata-fetching':
			return {...next, name: event.name ?? event.infoHash, phase: 'fetching-metadata', startedAt: now};
		case 'started':
			return {
				...next,
				name: event.name,
				pieceCount: event.pieceCount,
				totalLength: event.totalLength,
				phase: 'downloading',
				startedAt: now,
				downloadRate: 0,
				uploadRate: 0,
			};
		case 'peer-connected':
			return {...next, phase: state.phase === 'starving' ? 'downloading' : state.phase};
		case 'piece-verified': {
			const withPiece = addBytes(recent, now, event.bytes);
			return {
				...next,
				piecesDone: state.piecesDone + 1,
				bytesDone: state.bytesDone + event.bytes,
				recent: withPiece,
				downloadRate: rate(withPiece, state.startedAt, now),
			};
		}

		case 'checking':
			return {...next, phase: 'checking', checked: event.checked, toCheck: event.total};
		case 'checked':
			return {
				...next,
				piecesDone: event.pieces,
				bytesDone: event.bytes ?? estimatedBytes(state, event.pieces),
				phase: 'downloading',
			};
		case 'uploaded': {
			const withUpload = addBytes(recentUploads, now, event.bytes);
			return {
				...next,
				bytesUploaded: state.bytesUploaded + event.bytes,
				recentUploads: withUpload,
				uploadRate: rate(withUpload, state.startedAt, now),
			};
		}

		case 'announce-answered':
			return {...next, tracker: {host: hostOf(event.tracker), peers: event.peers.length}};
		case 'announce-failed':
			return {...next, tracker: {host: hostOf(event.tracker), failure: event.reason}};
		case 'seeding':
			return {...next, phase: 'seeding'};
		case 'no-peers':
			return {...next, phase: 'starving'};
		case 'completed':
			return {...next, phase: 'completed', bytesDone: state.totalLength || state.bytesDone};
		default:
			return next;
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
