import {BehaviorSubject} from 'rxjs';
import {PiecePicker} from '../../source/download/piece-picker.js';
import {defaultWindowOptions} from '../../source/download/request-window.js';
import type {SwarmContext} from '../../source/session/peer-session.js';
import {swarmMemory} from '../../source/swarm/bounded-map.js';
import type {makeTorrent} from './fake-peer.js';

/** A swarm context for one small torrent, with every peer unchoked unless a test says otherwise. */
export function swarmContext(
	torrent: ReturnType<typeof makeTorrent>,
	overrides: Partial<SwarmContext> = {},
): SwarmContext {
	const pieceSize = (index: number) => torrent.pieces[index]?.length ?? 0;
	return {
		infoHash: torrent.infoHash,
		peerId: Buffer.from('-RX0001-000000000000'),
		pieceHashes: torrent.pieceHashes,
		pieceSize,
		picker: new PiecePicker(pieceSize, torrent.pieces.length, {maxBytesInFlight: 1 << 30, random: () => 0}),
		window: defaultWindowOptions,
		tickMs: 1000,
		handshakeTimeoutMs: 3000,
		maxStrikes: 3,
		...swarmMemory(),
		suspects: new Map(),
		peers: new Map(),
		unchoked$: new BehaviorSubject<ReadonlySet<string>>(new Set()),
		interestChanged: () => undefined,
		maxQueuedRequests: 100,
		listenPort: 6881,
		clientName: 'torrent-rx test',
		totals: {uploaded: 0},
		...overrides,
	};
}
