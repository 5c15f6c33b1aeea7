import {clientName, clientNameFromVersion} from '../codec/client-name.js';
import type {PeerSource, TimedEvent} from './events.js';
import {rate, type Sample, slide} from './rate-window.js';

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

export const countConnected = (peers: ReadonlyMap<string, PeerState>) =>
	[...peers.values()].filter((peer) => peer.status !== 'connecting').length;

/** The per-peer part of the fold: who is connected, choking, sending which piece, at what rate. */
export function reducePeers(
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
