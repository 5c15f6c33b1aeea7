import {writeFile} from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import type {TimedEvent} from '../../source/events/events.js';
import {parsePrometheusText} from '../helpers/prometheus-text.js';
import {freePort, spawnTorrentRx, tempDir} from '../helpers/swarm-fixture.js';

const recorded: TimedEvent[] = [
	{
		type: 'started',
		name: 'm.iso',
		infoHash: 'ab'.repeat(20),
		pieceCount: 2,
		pieceLength: 1000,
		totalLength: 2000,
		at: 0,
	},
	{type: 'piece-verified', peer: '127.0.0.1:1', index: 0, bytes: 1000, at: 100},
	{type: 'piece-verified', peer: '127.0.0.1:1', index: 1, bytes: 1000, at: 200},
	{type: 'completed', bytes: 2000, at: 200},
	// Keeps the replay (and so the metrics server) alive long enough to scrape: 8 s later.
	{type: 'uploaded', peer: '127.0.0.1:1', bytes: 500, at: 8200},
];

test('a replay serves its metrics on --metrics-port; the scrape parses and counts the bytes', async (t) => {
	t.timeout(40_000);
	const dir = await tempDir(t);
	const log = path.join(dir, 'history.log');
	await writeFile(log, `${recorded.map((event) => JSON.stringify(event)).join('\n')}\n`);
	const port = await freePort();
	const run = spawnTorrentRx(t, ['--replay', log, '--metrics-port', String(port)], {timeoutMs: 30_000});
	let exited = false;
	void run.result.then(() => {
		exited = true;
	});
	// Scraped until it counts both pieces, for as long as the replay serves (8.2 s from its start,
	// however long starting takes), not for 7 s from the spawn.
	let samples: Map<string, number> | undefined;
	while (!exited && samples?.get('torrent_rx_pieces_verified_total') !== 2) {
		await new Promise((resolve) => setTimeout(resolve, 200));
		try {
			const response = await fetch(`http://127.0.0.1:${port}/metrics`, {signal: AbortSignal.timeout(2000)});
			samples = parsePrometheusText(await response.text());
		} catch {
			// Not listening yet.
		}
	}

	t.is(samples?.get('torrent_rx_downloaded_bytes_total{source="peer"}'), 2000);
	t.is(samples?.get('torrent_rx_completion_ratio'), 1);
	const result = await run.result;
	t.is(result.code, 0, result.stderr);
});
