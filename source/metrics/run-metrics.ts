import {Counter, collectDefaultMetrics, Gauge, Histogram, Registry} from 'prom-client';
import type {TimedEvent} from '../events/events.js';

/** The run's Prometheus metrics, in a registry of their own, fed from the event stream. */
export type RunMetrics = {
	registry: Registry;
	/** Folds one event into the metrics: one counter or gauge update, no label look-up per block. */
	observe(event: TimedEvent): void;
};

type EventOf<Type extends TimedEvent['type']> = Extract<TimedEvent, {type: Type}>;

/** The run's own series, registered in `registry` beside node's default ones. */
function registerRunSeries(registry: Registry) {
	collectDefaultMetrics({register: registry, prefix: 'torrent_rx_'});
	return {
		downloaded: new Counter({
			name: 'torrent_rx_downloaded_bytes_total',
			help: 'Payload bytes downloaded and verified, by source: peer or web_seed (BEP 19)',
			labelNames: ['source'] as const,
			registers: [registry],
		}),
		uploaded: new Counter({
			name: 'torrent_rx_uploaded_bytes_total',
			help: 'Payload bytes sent to peers',
			registers: [registry],
		}),
		verified: new Counter({
			name: 'torrent_rx_pieces_verified_total',
			help: 'Pieces that passed their SHA-1 check',
			registers: [registry],
		}),
		failed: new Counter({
			name: 'torrent_rx_pieces_failed_total',
			help: 'Pieces that failed their SHA-1 check',
			registers: [registry],
		}),
		peers: new Gauge({
			name: 'torrent_rx_peers',
			help: 'Peers by state',
			labelNames: ['state'] as const,
			registers: [registry],
		}),
		byEncryption: new Gauge({
			name: 'torrent_rx_connected_peers',
			help: 'Connected peers by how their bytes travel: rc4 (MSE/PE) or plaintext',
			labelNames: ['encryption'] as const,
			registers: [registry],
		}),
		announces: new Counter({
			name: 'torrent_rx_announces_total',
			help: 'Tracker announces by result',
			labelNames: ['result'] as const,
			registers: [registry],
		}),
		completion: new Gauge({
			name: 'torrent_rx_completion_ratio',
			help: 'Verified bytes over the torrent size',
			registers: [registry],
		}),
		selected: new Gauge({
			name: 'torrent_rx_selected_bytes',
			help: 'Bytes of the files selected to download (the torrent size when every file is)',
			registers: [registry],
		}),
		pieceDuration: new Histogram({
			name: 'torrent_rx_piece_download_seconds',
			help: 'From a piece started to verified',
			buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
			registers: [registry],
		}),
	};
}

type RunSeries = ReturnType<typeof registerRunSeries>;

/**
 * The `torrent_rx_peers` gauge by state and `torrent_rx_connected_peers` by encryption, kept
 * from the peer events. The label's values are ours (two), never the peer's word.
 */
function peerGauges(peers: RunSeries['peers'], byEncryption: RunSeries['byEncryption']) {
	const connecting = peers.labels('connecting');
	const connected = peers.labels('connected');
	const encryption = {rc4: byEncryption.labels('rc4'), plaintext: byEncryption.labels('plaintext')};
	const all = [connecting, connected, encryption.rc4, encryption.plaintext];
	// Every series from the first scrape, not from the first peer.
	for (const gauge of all) {
		gauge.set(0);
	}

	const connectedPeers = new Map<string, keyof typeof encryption>();
	return {
		connecting() {
			connecting.inc();
		},
		connected(event: EventOf<'peer-connected'>) {
			const protection = event.protection === 'rc4' ? 'rc4' : 'plaintext';
			connecting.dec();
			connected.inc();
			encryption[protection].inc();
			connectedPeers.set(event.peer, protection);
		},
		disconnected(event: EventOf<'peer-disconnected'>) {
			const protection = connectedPeers.get(event.peer);
			if (protection) {
				connectedPeers.delete(event.peer);
				connected.dec();
				encryption[protection].dec();
			} else {
				connecting.dec();
			}
		},
		/** The metadata phase's connections end with it, without an event each. */
		reset() {
			for (const gauge of all) {
				gauge.set(0);
			}

			connectedPeers.clear();
		},
	};
}

/** Completion, downloaded bytes and piece durations, kept from the run's progress events. */
function progressSeries({completion, selected, downloaded, verified, pieceDuration}: RunSeries) {
	const pieceStarted = new Map<number, number>();
	// Both series from the first scrape; the label's values are ours, never a stranger's text.
	const fromPeers = downloaded.labels('peer');
	const fromWebSeeds = downloaded.labels('web_seed');
	fromPeers.inc(0);
	fromWebSeeds.inc(0);
	/** The web seeds that sent pieces (as many as the torrent lists). */
	const webSeeds = new Set<string>();
	let totalLength = 0;
	let doneBytes = 0;
	return {
		started(event: EventOf<'started'>) {
			totalLength = event.totalLength;
			selected.set(
				event.files?.reduce((sum, file) => sum + (file.selected ? file.length : 0), 0) ?? event.totalLength,
			);
		},
		checked(event: EventOf<'checked'>) {
			// Pieces found on disk count towards completion but were not downloaded.
			// Logs from before `checked` carried its bytes: as many average pieces.
			doneBytes =
				event.bytes ??
				(totalLength > 0 && event.total > 0 ? Math.round((totalLength * event.pieces) / event.total) : 0);
			completion.set(totalLength > 0 ? doneBytes / totalLength : 0);
		},
		completed(event: EventOf<'completed'>) {
			// A selection of files completes with the pieces it wanted, short of the whole torrent.
			doneBytes = Math.max(doneBytes, event.bytes);
			completion.set(totalLength > 0 ? Math.min(1, doneBytes / totalLength) : 1);
		},
		pieceStarted(event: EventOf<'piece-started'>) {
			pieceStarted.set(event.index, event.at);
		},
		webSeedConnected(event: EventOf<'web-seed-connected'>) {
			webSeeds.add(event.seed);
		},
		pieceVerified(event: EventOf<'piece-verified'>) {
			(webSeeds.has(event.peer) ? fromWebSeeds : fromPeers).inc(event.bytes);
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
		},
	};
}

/**
 * The run's metrics in a registry of its own (several runs in one process do not mix): bytes,
 * pieces, peers by state, announces, completion and piece durations, each updated from one event.
 */
export function createRunMetrics(): RunMetrics {
	const registry = new Registry();
	const series = registerRunSeries(registry);
	const peers = peerGauges(series.peers, series.byEncryption);
	const progress = progressSeries(series);
	return {
		registry,
		observe(event) {
			switch (event.type) {
				case 'started':
					progress.started(event);
					break;
				case 'checked':
					progress.checked(event);
					break;
				case 'completed':
					progress.completed(event);
					break;
				case 'metadata-fetched':
					peers.reset();
					break;
				case 'peer-connecting':
					peers.connecting();
					break;
				case 'peer-connected':
					peers.connected(event);
					break;
				case 'peer-disconnected':
					peers.disconnected(event);
					break;
				case 'piece-started':
					progress.pieceStarted(event);
					break;
				case 'piece-verified':
					progress.pieceVerified(event);
					break;
				case 'web-seed-connected':
					progress.webSeedConnected(event);
					break;
				case 'piece-failed':
					series.failed.inc();
					break;
				case 'uploaded':
					series.uploaded.inc(event.bytes);
					break;
				case 'announce-answered':
					series.announces.labels('answered').inc();
					break;
				case 'announce-failed':
					series.announces.labels('failed').inc();
					break;
				default:
					break;
			}
		},
	};
}
