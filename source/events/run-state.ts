import {clientName, clientNameFromVersion} from '../codec/client-name.js';
import type {PeerSource, TimedEvent} from './events.js';

/** Bytes that arrived at a time: the samples a rate is averaged over. */
type Sample = {at: number; bytes: number};

/**
 * What we know of one peer. `choked`: connected, but it does not let us request; `unchoked`: it
 * does, with nothing in flight; `downloading`: pieces are on their way from it.
 */
export type PeerStatus = 'connecting' | 'choked' | 'unchoked' | 'downloading';

export type PeerState = {
	address: string;
	/** From the peer id, once the handshake is in, or its own word (BEP 10 `v`); empty while connecting. */
	client: string;
	/** How we learnt of it; undefined in logs from before it was recorded. */
	source: PeerSource | undefined;
	status: PeerStatus;
	/** Pieces requested from this peer and not yet verified, oldest first. */
	pieces: readonly number[];
	piecesDownloaded: number;
	bytesDownloaded: number;
	bytesUploaded: number;
	recentDownloads: readonly Sample[];
	recentUploads: readonly Sample[];
	downloadRate: number;
	uploadRate: number;
	/** When it was first seen: until a whole rate window has passed, its rates divide by the time since. */
	since: number;
};

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
	/** Verified bytes in the rate window, oldest first. */
	recent: readonly Sample[];
	/** Bytes a second over the rate window, as of the last event. */
	downloadRate: number;
	/** Seconds left at the current rate; undefined when nothing is arriving or nothing is left. */
	etaSeconds: number | undefined;
	/** Resume check progress: pieces checked of those to check. */
	checked: number;
	toCheck: number;
	bytesUploaded: number;
	recentUploads: readonly Sample[];
	uploadRate: number;
	phase: 'starting' | 'fetching-metadata' | 'checking' | 'downloading' | 'starving' | 'completed' | 'seeding';
	/** The last tracker answer (how many peers it gave) or failure (why), for the views' header. */
	tracker: {host: string; peers: number} | {host: string; failure: string} | undefined;
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
	peers: new Map(),
	connectedPeers: 0,
	recent: [],
	downloadRate: 0,
	etaSeconds: undefined,
	checked: 0,
	toCheck: 0,
	bytesUploaded: 0,
	recentUploads: [],
	uploadRate: 0,
	phase: 'starting',
	tracker: undefined,
	startedAt: 0,
	now: 0,
};

/** The samples still inside the window; the same array when none left it, so nothing is copied per event. */
function slide(samples: readonly Sample[], now: number): readonly Sample[] {
	const first = samples[0];
	return first === undefined || now - first.at < rateWindowMs
		? samples
		: samples.filter((sample) => now - sample.at < rateWindowMs);
}

function rate(samples: readonly Sample[], since: number, now: number): number {
	const total = samples.reduce((sum, sample) => sum + sample.bytes, 0);
	// Early on, divide by the time since the start (at least a second), not by a window not yet lived.
	return (total * 1000) / Math.max(1000, Math.min(rateWindowMs, now - since));
}

function newPeer(address: string, now: number, source?: PeerSource): PeerState {
	return {
		address,
		client: '',
		source,
		status: 'connecting',
		pieces: [],
		piecesDownloaded: 0,
		bytesDownloaded: 0,
		bytesUploaded: 0,
		recentDownloads: [],
		recentUploads: [],
		downloadRate: 0,
		uploadRate: 0,
		since: now,
	};
}

/** A peer's rates as of `now`; the same object when it has had nothing in the window. */
function slidePeer(peer: PeerState, now: number): PeerState {
	if (peer.recentDownloads.length === 0 && peer.recentUploads.length === 0) {
		return peer.downloadRate === 0 && peer.uploadRate === 0
			? peer
			: {...peer, downloadRate: 0, uploadRate: 0};
	}

	const recentDownloads = slide(peer.recentDownloads, now);
	const recentUploads = slide(peer.recentUploads, now);
	return {
		...peer,
		recentDownloads,
		recentUploads,
		downloadRate: rate(recentDownloads, peer.since, now),
		uploadRate: rate(recentUploads, peer.since, now),
	};
}

const statusWith = (peer: PeerState, pieces: readonly number[]): PeerStatus =>
	peer.status === 'connecting' || peer.status === 'choked'
		? peer.status
		: pieces.length > 0
			? 'downloading'
			: 'unchoked';

/** Applies `change` to one peer, seen or not, after sliding every peer's rate window to `now`. */
function updatePeers(
	peers: ReadonlyMap<string, PeerState>,
	now: number,
	address?: string,
	change?: (peer: PeerState) => PeerState | undefined,
): ReadonlyMap<string, PeerState> {
	const next = new Map<string, PeerState>();
	for (const [key, peer] of peers) {
		next.set(key, slidePeer(peer, now));
	}

	if (address !== undefined && change) {
		const changed = change(next.get(address) ?? newPeer(address, now));
		if (changed) {
			next.set(address, changed);
		} else {
			next.delete(address);
		}
	}

	return next;
}

const countConnected = (peers: ReadonlyMap<string, PeerState>) =>
	[...peers.values()].filter((peer) => peer.status !== 'connecting').length;

/** The per-peer part of the fold: who is connected, choking, sending which piece, at what rate. */
function reducePeers(
	peers: ReadonlyMap<string, PeerState>,
	event: TimedEvent,
): ReadonlyMap<string, PeerState> {
	const now = event.at;
	switch (event.type) {
		case 'peer-connecting':
			return updatePeers(peers, now, event.peer, () => newPeer(event.peer, now, event.source));
		case 'peer-connected':
			return updatePeers(peers, now, event.peer, (peer) => ({
				...peer,
				client: clientName(event.peerId),
				status: 'choked',
			}));
		case 'peer-identified':
			return peers.has(event.peer)
				? updatePeers(peers, now, event.peer, (peer) => ({
						...peer,
						client: clientNameFromVersion(event.client),
					}))
				: updatePeers(peers, now);
		case 'metadata-fetched':
		case 'started':
			// A new phase of the run opens its own connections; the old ones are gone.
			return new Map();
		case 'peer-disconnected':
			return updatePeers(peers, now, event.peer, () => undefined);
		case 'peer-choked':
			// Its requests are cancelled: the pieces go back to the picker.
			return updatePeers(peers, now, event.peer, (peer) => ({...peer, status: 'choked', pieces: []}));
		case 'peer-unchoked':
			return updatePeers(peers, now, event.peer, (peer) => ({
				...peer,
				status: peer.pieces.length > 0 ? 'downloading' : 'unchoked',
			}));
		case 'piece-started':
			return updatePeers(peers, now, event.peer, (peer) => {
				const pieces = [...peer.pieces, event.index];
				return {...peer, pieces, status: statusWith(peer, pieces)};
			});
		case 'piece-failed':
			return updatePeers(peers, now, event.peer, (peer) => {
				const pieces = peer.pieces.filter((index) => index !== event.index);
				return {...peer, pieces, status: statusWith(peer, pieces)};
			});
		case 'piece-verified':
			if (!peers.has(event.peer)) {
				// Verified from a peer that has since gone (or a replayed log without peer events).
				return updatePeers(peers, now);
			}

			return updatePeers(peers, now, event.peer, (peer) => {
				const pieces = peer.pieces.filter((index) => index !== event.index);
				const recentDownloads = [...peer.recentDownloads, {at: now, bytes: event.bytes}];
				return {
					...peer,
					pieces,
					status: statusWith(peer, pieces),
					piecesDownloaded: peer.piecesDownloaded + 1,
					bytesDownloaded: peer.bytesDownloaded + event.bytes,
					recentDownloads,
					downloadRate: rate(recentDownloads, peer.since, now),
				};
			});
		case 'uploaded':
			if (!peers.has(event.peer)) {
				return updatePeers(peers, now);
			}

			return updatePeers(peers, now, event.peer, (peer) => {
				const recentUploads = [...peer.recentUploads, {at: now, bytes: event.bytes}];
				return {
					...peer,
					bytesUploaded: peer.bytesUploaded + event.bytes,
					recentUploads,
					uploadRate: rate(recentUploads, peer.since, now),
				};
			});
		default:
			return updatePeers(peers, now);
	}
}

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
			return {
				...next,
				piecesDone: event.pieces,
				bytesDone: event.bytes ?? estimatedBytes(state, event.pieces),
				phase: 'downloading',
			};
		case 'uploaded': {
			const withUpload = [...recentUploads, {at: now, bytes: event.bytes}];
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
