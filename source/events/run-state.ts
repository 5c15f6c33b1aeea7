import type {TimedEvent} from './events.js';

/** What a status view shows, folded from the event stream and nothing else. */
export type RunState = {
	name: string;
	pieceCount: number;
	piecesDone: number;
	totalLength: number;
	bytesDone: number;
	/** Peers past the handshake, by address. */
	peers: ReadonlySet<string>;
	/** Verified bytes in the rate window, with their times, oldest first. */
	recent: Array<{at: number; bytes: number}>;
	/** Bytes a second over the rate window, as of the last event. */
	downloadRate: number;
	/** Resume check progress: pieces checked of those to check. */
	checked: number;
	toCheck: number;
	bytesUploaded: number;
	/** Uploaded bytes in the rate window, with their times. */
	recentUploads: Array<{at: number; bytes: number}>;
	uploadRate: number;
	phase: 'starting' | 'checking' | 'downloading' | 'starving' | 'completed' | 'seeding';
	/** When the run started: until a whole rate window has passed, rates divide by the time since. */
	startedAt: number;
	/** The time of the last event folded in. */
	now: number;
};

/** Rates average over this window: long enough to smooth out whole pieces landing, short enough to follow a change. */
export const rateWindowMs = 5000;

export const initialRunState: RunState = {
	name: '',
	pieceCount: 0,
	piecesDone: 0,
	totalLength: 0,
	bytesDone: 0,
	peers: new Set(),
	recent: [],
	downloadRate: 0,
	checked: 0,
	toCheck: 0,
	bytesUploaded: 0,
	recentUploads: [],
	uploadRate: 0,
	phase: 'starting',
	startedAt: 0,
	now: 0,
};

function rate(recent: RunState['recent'], startedAt: number, now: number): number {
	const total = recent.reduce((sum, sample) => sum + sample.bytes, 0);
	// Early on, divide by the time since the start (at least a second), not by a window not yet lived.
	return (total * 1000) / Math.max(1000, Math.min(rateWindowMs, now - startedAt));
}

/** The run-state reducer: pure, so `scan` can fold it and replay can rebuild it exactly. */
export function reduceRunState(state: RunState, event: TimedEvent): RunState {
	const now = event.at;
	const recent = state.recent.filter((sample) => now - sample.at < rateWindowMs);
	const recentUploads = state.recentUploads.filter((sample) => now - sample.at < rateWindowMs);
	const next: RunState = {
		...state,
		now,
		recent,
		recentUploads,
		uploadRate: rate(recentUploads, state.startedAt, now),
	};
	switch (event.type) {
		case 'started':
			return {
				...next,
				name: event.name,
				pieceCount: event.pieceCount,
				totalLength: event.totalLength,
				phase: 'downloading',
				startedAt: now,
			};
		case 'peer-connected':
			return {
				...next,
				peers: new Set(state.peers).add(event.peer),
				phase: state.phase === 'starving' ? 'downloading' : state.phase,
			};
		case 'peer-disconnected': {
			if (!state.peers.has(event.peer)) {
				return next;
			}

			const peers = new Set(state.peers);
			peers.delete(event.peer);
			return {...next, peers};
		}

		case 'piece-verified': {
			const withPiece = [...recent, {at: now, bytes: event.bytes}];
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
			return {...next, piecesDone: event.pieces, phase: 'downloading'};
		case 'uploaded': {
			const withUpload = [...recentUploads, {at: now, bytes: event.bytes}];
			return {
				...next,
				bytesUploaded: state.bytesUploaded + event.bytes,
				recentUploads: withUpload,
				uploadRate: rate(withUpload, state.startedAt, now),
			};
		}

		case 'seeding':
			return {...next, phase: 'seeding'};
		case 'no-peers':
			return {...next, phase: 'starving'};
		case 'completed':
			return {...next, phase: 'completed'};
		default:
			return {...next, downloadRate: rate(recent, state.startedAt, now)};
	}
}
