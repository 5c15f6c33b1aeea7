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
	/** How we learnt of it (`web-seed`: a web seed of the torrent, BEP 19); undefined in logs from before it was recorded. */
	source: PeerSource | 'web-seed' | undefined;
	/** How its bytes travel (MSE/PE), once the handshake is in; undefined before, and in older logs. */
	protection: 'rc4' | 'plaintext' | undefined;
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

function newPeer(address: string, now: number, source?: PeerSource | 'web-seed'): PeerState {
	return {
		address,
		client: '',
		source,
		protection: undefined,
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

/** A peer copied in this batch, so ours to change. */
function slideInPlace(peer: PeerState, now: number): PeerState {
	peer.recentDownloads = slide(peer.recentDownloads, now);
	peer.recentUploads = slide(peer.recentUploads, now);
	peer.downloadRate = rate(peer.recentDownloads, peer.since, now);
	peer.uploadRate = rate(peer.recentUploads, peer.since, now);
	return peer;
}

const statusWith = (peer: PeerState, piecesInFlight: number): PeerStatus =>
	peer.status === 'connecting' || peer.status === 'choked'
		? peer.status
		: piecesInFlight > 0
			? 'downloading'
			: 'unchoked';

/** One piece fewer in flight: verified or failed. */
function settlePiece(peer: PeerState): void {
	peer.piecesInFlight = Math.max(0, peer.piecesInFlight - 1);
	peer.currentPiece = peer.piecesInFlight > 0 ? peer.currentPiece : undefined;
	peer.status = statusWith(peer, peer.piecesInFlight);
}

export const countConnected = (peers: ReadonlyMap<string, PeerState>) =>
	[...peers.values()].filter((peer) => peer.status !== 'connecting').length;

/**
 * The per-peer part of the fold (who is connected, choking, sending which piece, at what
 * rate) for a batch of events. The map and each peer that changes are copied once per batch,
 * not once per event, and the map stays the same object when no peer changed.
 */
export class PeerMapDraft {
	#peers: ReadonlyMap<string, PeerState>;
	/** The batch's own copy of the map, once anything changed. */
	#copy: Map<string, PeerState> | undefined;
	/** Peers copied in this batch: changed in place from then on. */
	readonly #drafted = new Set<string>();

	constructor(peers: ReadonlyMap<string, PeerState>) {
		this.#peers = peers;
	}

	apply(event: TimedEvent): void {
		const now = event.at;
		switch (event.type) {
			case 'peer-connecting':
				this.#put(newPeer(event.peer, now, event.source));
				break;
			case 'peer-connected': {
				const peer = this.#writable(event.peer, now);
				peer.client = clientName(event.peerId);
				peer.protection = event.protection;
				peer.status = 'choked';
				break;
			}

			case 'peer-identified':
				if (this.#peers.has(event.peer)) {
					this.#writable(event.peer, now).client = clientNameFromVersion(event.client);
				}

				break;
			case 'metadata-fetched':
			case 'started':
				// A new phase of the run opens its own connections; the old ones are gone.
				this.#peers = this.#copy = new Map();
				this.#drafted.clear();
				break;
			case 'peer-disconnected':
				this.#own().delete(event.peer);
				this.#drafted.delete(event.peer);
				break;
			case 'web-seed-connected':
			case 'web-seed-failed':
				this.#applyWebSeed(event, now);
				break;
			case 'peer-choked': {
				// Its requests are cancelled: the pieces go back to the picker.
				const peer = this.#writable(event.peer, now);
				peer.status = 'choked';
				peer.piecesInFlight = 0;
				peer.currentPiece = undefined;
				break;
			}

			case 'peer-unchoked': {
				const peer = this.#writable(event.peer, now);
				peer.status = peer.piecesInFlight > 0 ? 'downloading' : 'unchoked';
				break;
			}

			case 'piece-started': {
				const peer = this.#writable(event.peer, now);
				peer.piecesInFlight++;
				peer.currentPiece = event.index;
				peer.status = statusWith(peer, peer.piecesInFlight);
				break;
			}

			case 'piece-failed':
				settlePiece(this.#writable(event.peer, now));
				break;
			case 'piece-verified':
			case 'uploaded':
				this.#applyTransfer(event, now);
				break;
			default:
				break;
		}
	}

	/** Bytes from a peer or to it; not for a peer that has since gone (or in a replayed log without peer events). */
	#applyTransfer(event: Extract<TimedEvent, {type: 'piece-verified' | 'uploaded'}>, now: number): void {
		if (!this.#peers.has(event.peer)) {
			return;
		}

		const peer = this.#writable(event.peer, now);
		if (event.type === 'piece-verified') {
			settlePiece(peer);
			peer.piecesDownloaded++;
			peer.bytesDownloaded += event.bytes;
			peer.recentDownloads = addBytes(peer.recentDownloads, now, event.bytes);
		} else {
			peer.bytesUploaded += event.bytes;
			peer.recentUploads = addBytes(peer.recentUploads, now, event.bytes);
		}
	}

	/** A web seed (BEP 19) is a row like a peer's, its rate from its pieces; dropped, it is gone as a peer that left (retried, it stays). */
	#applyWebSeed(
		event: Extract<TimedEvent, {type: 'web-seed-connected' | 'web-seed-failed'}>,
		now: number,
	): void {
		if (event.type === 'web-seed-connected') {
			const seed = newPeer(event.seed, now, 'web-seed');
			seed.client = 'web seed';
			seed.status = 'downloading';
			this.#put(seed);
		} else if (event.retryInMs === undefined) {
			this.#own().delete(event.seed);
			this.#drafted.delete(event.seed);
		}
	}

	/** The peers with their rates as of `now`, the batch's last event. */
	finish(now: number): ReadonlyMap<string, PeerState> {
		for (const [address, peer] of this.#peers) {
			if (this.#drafted.has(address)) {
				slideInPlace(peer, now);
			} else {
				const slid = slidePeer(peer, now);
				if (slid !== peer) {
					this.#own().set(address, slid);
				}
			}
		}

		return this.#peers;
	}

	#own(): Map<string, PeerState> {
		if (!this.#copy) {
			this.#copy = new Map(this.#peers);
			this.#peers = this.#copy;
		}

		return this.#copy;
	}

	#put(peer: PeerState): PeerState {
		this.#own().set(peer.address, peer);
		this.#drafted.add(peer.address);
		return peer;
	}

	/** The batch's own copy of a peer (a new one if it is not known), to change in place. */
	#writable(address: string, now: number): PeerState {
		const peer = this.#peers.get(address);
		if (peer && this.#drafted.has(address)) {
			return peer;
		}

		return this.#put(peer ? {...peer} : newPeer(address, now));
	}
}
