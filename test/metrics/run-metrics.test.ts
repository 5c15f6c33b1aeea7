import test from 'ava';
import type {TimedEvent} from '../../source/events/events.js';
import {createRunMetrics} from '../../source/metrics/run-metrics.js';
import {parsePrometheusText} from '../helpers/prometheus-text.js';

const events: TimedEvent[] = [
	{type: 'started', name: 'x', infoHash: 'ab', pieceCount: 4, pieceLength: 100, totalLength: 400, at: 0},
	{type: 'checked', pieces: 1, total: 4, at: 1},
	{type: 'announce-failed', tracker: 't', event: 'started', reason: 'refused', at: 2},
	{type: 'announce-answered', tracker: 't', event: 'started', peers: [], interval: 60, at: 3},
	{type: 'peer-connecting', peer: 'a', at: 4},
	{type: 'peer-connecting', peer: 'b', at: 4},
	{type: 'peer-connected', peer: 'a', peerId: 'x', at: 5},
	{type: 'peer-disconnected', peer: 'b', reason: 'refused', at: 6},
	{type: 'piece-started', peer: 'a', index: 1, at: 10},
	{type: 'piece-verified', peer: 'a', index: 1, bytes: 100, at: 310},
	{type: 'piece-failed', peer: 'a', index: 2, strikes: 1, at: 320},
	{type: 'uploaded', peer: 'a', bytes: 1234, at: 400},
];

test('the metrics follow the events: bytes, pieces, peers by state, announces, completion, durations', async (t) => {
	const metrics = createRunMetrics();
	for (const event of events) {
		metrics.observe(event);
	}

	const samples = parsePrometheusText(await metrics.registry.metrics());
	t.is(samples.get('torrent_rx_downloaded_bytes_total{source="peer"}'), 100);
	t.is(samples.get('torrent_rx_uploaded_bytes_total'), 1234);
	t.is(samples.get('torrent_rx_pieces_verified_total'), 1);
	t.is(samples.get('torrent_rx_pieces_failed_total'), 1);
	t.is(samples.get('torrent_rx_peers{state="connected"}'), 1);
	t.is(samples.get('torrent_rx_peers{state="connecting"}'), 0);
	t.is(samples.get('torrent_rx_announces_total{result="answered"}'), 1);
	t.is(samples.get('torrent_rx_announces_total{result="failed"}'), 1);
	// One piece found on disk and one downloaded, of four.
	t.is(samples.get('torrent_rx_completion_ratio'), 0.5);
	t.is(samples.get('torrent_rx_piece_download_seconds_count'), 1);
	t.is(samples.get('torrent_rx_piece_download_seconds_sum'), 0.3);
	t.true((samples.get('torrent_rx_process_cpu_seconds_total') ?? -1) >= 0, 'default process metrics too');
});

test('each run has a registry of its own, not the global one', (t) => {
	const first = createRunMetrics();
	const second = createRunMetrics();
	first.observe({type: 'uploaded', peer: 'a', bytes: 5, at: 0});
	t.not(first.registry, second.registry);
});

test('completion counts the exact bytes found on disk, short last piece included, and ends at 1', async (t) => {
	const metrics = createRunMetrics();
	const ratio = async () =>
		parsePrometheusText(await metrics.registry.metrics()).get('torrent_rx_completion_ratio');
	t.is(parsePrometheusText(await metrics.registry.metrics()).get('torrent_rx_peers{state="connected"}'), 0);
	// Three pieces of 100 and a last one of 10; the last one and one other are on disk.
	metrics.observe({
		type: 'started',
		name: 'x',
		infoHash: 'ab',
		pieceCount: 4,
		pieceLength: 100,
		totalLength: 310,
		at: 0,
	});
	metrics.observe({type: 'checked', pieces: 2, total: 4, bytes: 110, at: 1});
	t.is(await ratio(), 110 / 310);
	metrics.observe({type: 'piece-verified', peer: 'a', index: 0, bytes: 100, at: 2});
	metrics.observe({type: 'piece-verified', peer: 'a', index: 1, bytes: 100, at: 3});
	metrics.observe({type: 'completed', bytes: 310, at: 3});
	t.is(await ratio(), 1);
});

test('connected peers by encryption: rc4 or plaintext (an older log’s peer counts as plaintext), each leaving its own', async (t) => {
	const metrics = createRunMetrics();
	const byEncryption = async () => {
		const samples = parsePrometheusText(await metrics.registry.metrics());
		return [
			samples.get('torrent_rx_connected_peers{encryption="rc4"}'),
			samples.get('torrent_rx_connected_peers{encryption="plaintext"}'),
		];
	};

	t.deepEqual(await byEncryption(), [0, 0], 'both series from the first scrape');
	const connected: TimedEvent[] = [
		{type: 'peer-connecting', peer: 'a', at: 0},
		{type: 'peer-connecting', peer: 'b', at: 0},
		{type: 'peer-connecting', peer: 'c', at: 0},
		{type: 'peer-connected', peer: 'a', peerId: 'x', protection: 'rc4', at: 1},
		{type: 'peer-connected', peer: 'b', peerId: 'y', protection: 'plaintext', at: 1},
		{type: 'peer-connected', peer: 'c', peerId: 'z', at: 1},
	];
	for (const event of connected) {
		metrics.observe(event);
	}

	t.deepEqual(await byEncryption(), [1, 2]);
	metrics.observe({type: 'peer-disconnected', peer: 'a', reason: 'bye', at: 2});
	t.deepEqual(await byEncryption(), [0, 2]);
	metrics.observe({type: 'metadata-fetched', name: 'x', bytes: 1, torrentFile: 'x.torrent', at: 3});
	t.deepEqual(await byEncryption(), [0, 0], 'the metadata phase’s peers are gone with it');
});

test('a selection: the selected bytes, and completion short of 1 when the selection completes', async (t) => {
	const metrics = createRunMetrics();
	const samples = async () => parsePrometheusText(await metrics.registry.metrics());
	metrics.observe({
		type: 'started',
		name: 'x',
		infoHash: 'ab',
		pieceCount: 4,
		pieceLength: 100,
		totalLength: 400,
		files: [
			{number: 1, path: 'x/a', offset: 0, length: 150, selected: true},
			{number: 2, path: 'x/b', offset: 150, length: 250, selected: false},
		],
		at: 0,
	});
	t.is((await samples()).get('torrent_rx_selected_bytes'), 150);
	metrics.observe({type: 'piece-verified', peer: 'a', index: 0, bytes: 100, at: 1});
	metrics.observe({type: 'piece-verified', peer: 'a', index: 1, bytes: 100, at: 2});
	metrics.observe({type: 'completed', bytes: 200, at: 3});
	t.is((await samples()).get('torrent_rx_completion_ratio'), 0.5);
});

test('downloaded bytes by source: a web seed’s pieces under web_seed, a peer’s under peer', async (t) => {
	const metrics = createRunMetrics();
	const samples = async () => parsePrometheusText(await metrics.registry.metrics());
	t.is((await samples()).get('torrent_rx_downloaded_bytes_total{source="web_seed"}'), 0);
	metrics.observe({type: 'web-seed-connected', seed: 'http://mirror/x/', at: 1});
	metrics.observe({type: 'piece-verified', peer: 'http://mirror/x/', index: 0, bytes: 300, at: 2});
	metrics.observe({type: 'piece-verified', peer: '127.0.0.1:6881', index: 1, bytes: 200, at: 3});
	t.is((await samples()).get('torrent_rx_downloaded_bytes_total{source="web_seed"}'), 300);
	t.is((await samples()).get('torrent_rx_downloaded_bytes_total{source="peer"}'), 200);
});
