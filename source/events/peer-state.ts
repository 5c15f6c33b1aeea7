import {clientName, clientNameFromVersion} from '../codec/client-name.js';
import type {PeerSource, TimedEvent} from './events.js';
import {addBytes, emptyRateWindow, type RateWindow, rate, slide} from './rate-window.js';

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
	/**
	 * Pieces started with this peer and not yet verified or failed. A count rather than a list:
	 * with small pieces hundreds are in flight, and the fold must cost the same per event. (In
	 * endgame another peer may finish one; the count is then high until the next choke.)
	 */
	piecesInFlight: number;
	/** The piece most recently started with it, while any is in flight. */
	currentPiece: number | undefined;
	piecesDownloaded: number;
	bytesDownloaded: number;
	bytesUploaded: number;
	recentDownloads: RateWindow;
	recentUploads: RateWindow;
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
		piecesInFlight: 0,
		currentPiece: undefined,
		piecesDownloaded: 0,
		bytesDownloaded: 0,
		bytesUploaded: 0,
		recentDownloads: emptyRateWindow,
		recentUploads: emptyRateWindow,
		downloadRate: 0,
		uploadRate: 0,
		since: now,
	};
}

/** A peer's rates as of `now`; the same object when they have not changed, which is most of the time. */
function slidePeer(peer: PeerState, now: number): PeerState {
	const recentDownloads = slide(peer.recentDownloads, now);
	const recentUploads = slide(peer.recentUploads, now);
	const downloadRate = rate(recentDownloads, peer.since, now);
	const uploadRate = rate(recentUploads, peer.since, now);
	return recentDownloads === peer.recentDownloads &&
		recentUploads === peer.recentUploads &&
		downloadRate === peer.downloadRate &&
		uploadRate === peer.uploadRate
		? peer
		: {...peer, recentDownloads, recentUploads, downloadRate, uploadRate};
}

const statusWith = (peer: PeerState, piecesInFlight: number): PeerStatus =>
	peer.status === 'connecting' || peer.status === 'choked'
		? peer.status
		: piecesInFlight > 0
			? 'downloading'
			: 'unchoked';

/** One piece fewer in flight: verified or failed. */
function pieceSettled(peer: PeerState): Pick<PeerState, 'piecesInFlight' | 'currentPiece' | 'status'> {
	const piecesInFlight = Math.max(0, peer.piecesInFlight - 1);
	return {
		piecesInFlight,
		currentPiece: piecesInFlight > 0 ? peer.currentPiece : undefined,
		status: statusWith(peer, piecesInFlight),
	};
}

/**
 * Applies `change` to one peer, seen or not, after sliding every peer's rate window to `now`;
 * the same map when no peer changed.
 */
function updatePeers(
	peers: ReadonlyMap<string, PeerState>,
	now: number,
	address?: string,
	change?: (peer: PeerState) => PeerState | undefined,
): ReadonlyMap<string, PeerState> {
	let next: Map<string, PeerState> | undefined;
	for (const [key, peer] of peers) {
		const slid = slidePeer(peer, now);
		if (slid !== peer) {
			next ??= new Map(peers);
			next.set(key, slid);
		}
	}

	if (address === undefined || !change) {
		return next ?? peers;
	}

	next ??= new Map(peers);
	const changed = change(next.get(address) ?? newPeer(address, now));
	if (changed) {
		next.set(address, changed);
	} else {
		next.delete(address);
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
			return updatePeers(peers, now, event.peer, (peer) => ({
				...peer,
				status: 'choked',
				piecesInFlight: 0,
				currentPiece: undefined,
			}));
		case 'peer-unchoked':
			return updatePeers(peers, now, event.peer, (peer) => ({
				...peer,
				status: peer.piecesInFlight > 0 ? 'downloading' : 'unchoked',
			}));
		case 'piece-started':
			return updatePeers(peers, now, event.peer, (peer) => ({
				...peer,
				piecesInFlight: peer.piecesInFlight + 1,
				currentPiece: event.index,
				status: statusWith(peer, peer.piecesInFlight + 1),
			}));
		case 'piece-failed':
			return updatePeers(peers, now, event.peer, (peer) => ({...peer, ...pieceSettled(peer)}));
		case 'piece-verified':
			if (!peers.has(event.peer)) {
				// Verified from a peer that has since gone (or a replayed log without peer events).
				return updatePeers(peers, now);
			}

			return updatePeers(peers, now, event.peer, (peer) => {
				const recentDownloads = addBytes(peer.recentDownloads, now, event.bytes);
				return {
					...peer,
					...pieceSettled(peer),
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
				const recentUploads = addBytes(peer.recentUploads, now, event.bytes);
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
