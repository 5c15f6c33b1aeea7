import type {PeerAddress} from '../codec/compact-peers.js';
import type {Metainfo} from '../codec/metainfo.js';
import {ourClientName} from '../codec/peer-id.js';
import {PeerReputation} from '../swarm/reputation.js';
import type {SwarmContext, SwarmShared} from '../swarm/swarm-context.js';
import type {DownloadOptions} from './download-options.js';

/** What of a run's options the swarm context is made of. */
export type ContextOptions = Pick<
	DownloadOptions,
	| 'peerId'
	| 'port'
	| 'window'
	| 'tickMs'
	| 'handshakeTimeoutMs'
	| 'maxQueuedRequests'
	| 'maxStrikes'
	| 'scheduler'
>;

/** BEP 11 PEX: how often each peer is told whom we reached. */
const pexIntervalMs = 60_000;

/**
 * The context every peer session of a run shares: the torrent and our settings, the state the
 * run shares between its peers (made by the caller, who also reads it), and a fresh reputation.
 * `dialable` names the peers PEX passes on; a private torrent gets no PEX at all.
 */
export function swarmContextFor(
	metainfo: Metainfo,
	options: ContextOptions,
	shared: SwarmShared,
	dialable: () => PeerAddress[],
): SwarmContext {
	return {
		settings: {
			infoHash: metainfo.infoHash,
			peerId: options.peerId,
			pieceSize: shared.picker.pieceSize,
			window: options.window,
			tickMs: options.tickMs,
			handshakeTimeoutMs: options.handshakeTimeoutMs,
			maxQueuedRequests: options.maxQueuedRequests,
			infoBytes: metainfo.infoBytes,
			listenPort: options.port,
			clientName: ourClientName,
			// BEP 27: a private torrent's peers come from its trackers alone.
			...(metainfo.private ? {} : {pex: {dialable, intervalMs: pexIntervalMs}}),
			...(options.scheduler ? {scheduler: options.scheduler} : {}),
		},
		shared,
		reputation: new PeerReputation(options.maxStrikes),
	};
}
