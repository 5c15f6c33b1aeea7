import {Counter, collectDefaultMetrics, Gauge, Histogram, Registry} from 'prom-client';
import type {TimedEvent} from '../events/events.js';

/** The run's Prometheus metrics, in a registry of their own, fed from the event stream. */
export type RunMetrics = {
	registry: Registry;
	/** Folds one event into the metrics: one counter or gauge update, no label look-up per block. */
	observe(event: TimedEvent): void;
};

export function createRunMetrics(): RunMetrics {
	const registry = new Registry();
	collectDefaultMetrics({register: registry, prefix: 'torrent_rx_'});
	const downloaded = new Counter({
		name: 'torrent_rx_downloaded_bytes_total',
		help: 'Payload bytes downloaded and verified',
		registers: [registry],
	});
	const uploaded = new Counter({
		name: 'torrent_rx_uploaded_bytes_total',
		help: 'Payload bytes sent to peers',
		registers: [registry],
	});
	const verified = new Counter({
		name: 'torrent_rx_pieces_verified_total',
		help: 'Pieces that passed their SHA-1 check',
		registers: [registry],
	});
	const failed = new Counter({
		name: 'torrent_rx_pieces_failed_total',
		help: 'Pieces that failed their SHA-1 check',
		registers: [registry],
	});
	const peers = new Gauge({
		name: 'torrent_rx_peers',
		help: 'Peers by state',
		labelNames: ['state'] as const,
		registers: [registry],
	});
	const announces = new Counter({
		name: 'torrent_rx_announces_total',
		help: 'Tracker announces by result',
		labelNames: ['result'] as const,
		registers: [registry],
	});
	const completion = new Gauge({
		name: 'torrent_rx_completion_ratio',
		help: 'Verified bytes over the torrent size',
		registers: [registry],
	});
	const pieceDuration = new Histogram({
		name: 'torrent_rx_piece_download_seconds',
		help: 'From a piece started to verified',
		buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
		registers: [registry],
	});
	const connecting = peers.labels('connecting');
	const connected = peers.labels('connected');
	// Both series from the first scrape, not from the first peer.
	connecting.set(0);
	connected.set(0);
	const pieceStarted = new Map<number, number>();
	const connectedPeers = new Set<string>();
	let totalLength = 0;
	let doneBytes = 0;
	return {
		registry,
		observe(event) {
			switch (event.type) {
				case 'started':
					totalLength = event.totalLength;
					break;
				case 'checked':
					// Pieces found on disk count towards completion but were not downloaded.
					// Logs from before `checked` carried its bytes: as many average pieces.
					doneBytes =
						event.bytes ??
						(totalLength > 0 && event.total > 0 ? Math.round((totalLength * event.pieces) / event.total) : 0);
					completion.set(totalLength > 0 ? doneBytes / totalLength : 0);
					break;
				case 'completed':
					doneBytes = totalLength;
					completion.set(1);
					break;
				case 'metadata-fetched':
					// The metadata phase's connections end with it, without an event each.
					connecting.set(0);
					connected.set(0);
					connectedPeers.clear();
					break;
				case 'peer-connecting':
					connecting.inc();
					break;
				case 'peer-connected':
					connecting.dec();
					connected.inc();
					connectedPeers.add(event.peer);
					break;
				case 'peer-disconnected':
					if (connectedPeers.delete(event.peer)) {
						connected.dec();
					} else {
						connecting.dec();
					}

					break;
				case 'piece-started':
					pieceStarted.set(event.index, event.at);
					break;
				case 'piece-verified': {
					downloaded.inc(event.bytes);
					verified.inc();
					doneBytes += event.bytes;
					completion.set(totalLength > 0 ? doneBytes / totalLength : 0);
					const startedAt = pieceStarted.get(event.index);
					pieceStarted.delete(event.index);
					// Logs from before durationMs was recorded: from the piece-started event instead.
					const durationMs = event.durationMs ?? (startedAt === undefined ? undefined : event.at - startedAt);
					if (durationMs !== undefined) {
						pieceDuration.observe(durationMs / 1000);
					}

					break;
				}

				case 'piece-failed':
					failed.inc();
					break;
				case 'uploaded':
					uploaded.inc(event.bytes);
					break;
				case 'announce-answered':
					announces.labels('answered').inc();
					break;
				case 'announce-failed':
					announces.labels('failed').inc();
					break;
				default:
					break;
			}
		},
	};
}
