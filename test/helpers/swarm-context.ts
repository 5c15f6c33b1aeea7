import {BehaviorSubject} from 'rxjs';
import {PiecePicker} from '../../source/download/piece-picker.js';
import {PieceSignals} from '../../source/download/piece-signals.js';
import {defaultWindowOptions} from '../../source/download/request-window.js';
import {hashOnMainThread} from '../../source/hashing/sha1.js';
import {PeerReputation} from '../../source/swarm/reputation.js';
import type {SwarmContext, SwarmSettings, SwarmShared} from '../../source/swarm/swarm-context.js';
import {type PieceVerifier, sha1PieceVerifier} from '../../source/verify/piece-verifier.js';
import type {makeTorrent} from './fake-peer.js';

/** What a test changes in the context, part by part. */
export type SwarmContextOverrides = {
	settings?: Partial<SwarmSettings>;
	shared?: Partial<SwarmShared>;
	reputation?: PeerReputation;
};

/** A swarm context for one small torrent, with every peer unchoked unless a test says otherwise. */
export function swarmContext(
	torrent: ReturnType<typeof makeTorrent>,
	overrides: SwarmContextOverrides = {},
): SwarmContext {
	const pieceSize = (index: number) => torrent.pieces[index]?.length ?? 0;
	return {
		settings: {
			infoHash: torrent.infoHash,
			peerId: Buffer.from('-RX0001-000000000000'),
			pieceSize,
			window: defaultWindowOptions,
			tickMs: 1000,
			handshakeTimeoutMs: 3000,
			maxQueuedRequests: 100,
			listenPort: 6881,
			clientName: 'torrent-rx test',
			...overrides.settings,
		},
		shared: {
			picker: new PiecePicker(pieceSize, torrent.pieces.length, {
				maxBytesInFlight: 1 << 30,
				random: () => 0,
				listener: new PieceSignals(),
				checkInvariants: true,
			}),
			peers: new Map(),
			unchoked$: new BehaviorSubject<ReadonlySet<string>>(new Set()),
			interestChanged: () => undefined,
			totals: {uploaded: 0},
			...overrides.shared,
		},
		reputation: overrides.reputation ?? new PeerReputation(3),
	};
}

/** SHA-1 on this thread against the torrent's piece hashes, as a run verifies. */
export function verifierFor(torrent: ReturnType<typeof makeTorrent>): PieceVerifier {
	return sha1PieceVerifier(hashOnMainThread, torrent.pieceHashes);
}
