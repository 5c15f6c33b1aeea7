/**
 * `--mode web` end to end: the CLI replays a recorded run into its web view, and Debian's
 * chromium (driven by playwright-core) renders it live in two tabs.
 */
import {existsSync} from 'node:fs';
import {writeFile} from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import {type Browser, chromium, type Page} from 'playwright-core';
import type {TimedEvent} from '../../source/events/events.js';
import {freePort, type RunningTorrentRx, spawnTorrentRx, tempDir} from '../helpers/swarm-fixture.js';

const chromiumPath = '/usr/bin/chromium';

const peers = ['127.0.0.1:6881', '127.0.0.1:6882', '127.0.0.1:6883'];
const pieceCount = 10;
const pieceLength = 16_384;

/**
 * Three libtorrent peers connect, unchoke us and send ten pieces between 0.9 s and 4.05 s of
 * recorded time, round robin; the run completes at 4.1 s.
 */
function recordedRun(): TimedEvent[] {
	const events: TimedEvent[] = [
		{
			type: 'started',
			name: 'web-view.iso',
			infoHash: 'ef'.repeat(20),
			pieceCount,
			pieceLength,
			totalLength: pieceCount * pieceLength,
			at: 0,
		},
	];
	for (const [index, peer] of peers.entries()) {
		events.push(
			{type: 'peer-connecting', peer, at: 100 + 50 * index},
			{
				type: 'peer-connected',
				peer,
				peerId: `-LT2080-${`web${index}`.padEnd(12, '0')}`,
				// The first over RC4 (MSE/PE), the others not.
				protection: index === 0 ? 'rc4' : 'plaintext',
				at: 300 + 50 * index,
			},
			{type: 'peer-unchoked', peer, at: 500 + 50 * index},
		);
	}

	for (let index = 0; index < pieceCount; index++) {
		const peer = peers[index % peers.length] ?? '';
		const verifiedAt = 900 + 350 * index;
		events.push(
			{type: 'piece-started', peer, index, at: verifiedAt - 300},
			{type: 'piece-verified', peer, index, bytes: pieceLength, at: verifiedAt},
		);
	}

	events.push({type: 'completed', bytes: pieceCount * pieceLength, at: 4100});
	// The replay waits out each gap, so the log must be in time order.
	return events.sort((a, b) => a.at - b.at);
}

async function writeLog(dir: string, events: readonly TimedEvent[]): Promise<string> {
	const log = path.join(dir, 'history.log');
	await writeFile(log, `${events.map((event) => JSON.stringify(event)).join('\n')}\n`);
	return log;
}

/** The URL the run prints once its web view is listening; rejects if it ends or stays silent first. */
function webViewUrl(run: RunningTorrentRx, timeoutMs: number): Promise<string> {
	return new Promise((resolve, reject) => {
		let stdout = '';
		const timer = setTimeout(
			() => reject(new Error(`no "Web view at" within ${timeoutMs} ms; stderr:\n${run.stderr()}`)),
			timeoutMs,
		);
		run.child.stdout?.on('data', (chunk: Buffer) => {
			stdout += chunk.toString();
			const printed = /^Web view at (\S+)$/m.exec(stdout);
			if (printed?.[1]) {
				clearTimeout(timer);
				resolve(printed[1]);
			}
		});
		run.result.then(
			(result) => {
				clearTimeout(timer);
				reject(
					new Error(`torrent-rx exited (${result.code}) before serving the web view:\n${result.stderr}`),
				);
			},
			(error: unknown) => {
				clearTimeout(timer);
				reject(error);
			},
		);
	});
}

/** What a tab shows, read in one go. */
type Shown = {
	name: string;
	activity: string;
	progress: number;
	percent: string;
	pieces: string;
	peers: string;
	columns: string[];
	rows: Array<{peer: string; cells: string[]}>;
	connection: string;
	title: string;
};

// A string, evaluated in the page: the project's TypeScript has no DOM types.
const readShown = `(() => {
	const text = (id) => document.getElementById(id).textContent;
	return {
		name: text('name'),
		activity: text('activity'),
		progress: document.getElementById('progress').value,
		percent: text('percent'),
		pieces: text('pieces'),
		peers: text('peers'),
		columns: [...document.querySelectorAll('#columns th')].map((cell) => cell.textContent),
		rows: [...document.querySelectorAll('#rows tr')].map((row) => ({
			peer: row.dataset.peer,
			cells: [...row.cells].map((cell) => cell.textContent),
		})),
		connection: text('connection'),
		title: document.title,
	};
})()`;

const shown = (page: Page) => page.evaluate<Shown>(readShown);

/** Polls `page` until what it shows satisfies `check`; fails with `what` and the last reading. */
async function until(page: Page, what: string, check: (view: Shown) => boolean, timeoutMs = 10_000) {
	const deadline = Date.now() + timeoutMs;
	for (;;) {
		const view = await shown(page);
		if (check(view)) {
			return view;
		}

		if (Date.now() > deadline) {
			throw new Error(`the page never showed ${what} within ${timeoutMs} ms; last: ${JSON.stringify(view)}`);
		}

		await new Promise((resolve) => setTimeout(resolve, 25));
	}
}

/**
 * Each of the three peers has its row, naming its address and libtorrent 2.0.8 as its client,
 * and the first marked as RC4-encrypted.
 */
function namesEveryPeer(view: Shown): boolean {
	const rows = [...view.rows].sort((a, b) => a.peer.localeCompare(b.peer));
	return (
		rows.length === peers.length &&
		rows.every(
			(row, index) =>
				row.peer === peers[index] &&
				row.cells[0] === row.peer &&
				row.cells[1] === 'libtorrent 2.0.8' &&
				row.cells[2] === (index === 0 ? 'rc4' : ''),
		)
	);
}

/** A tab in a context of its own, with every script error and console error it sees collected. */
async function openTab(browser: Browser, url: string, problems: string[]): Promise<Page> {
	const page = await browser.newPage();
	page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
	page.on('console', (message) => {
		// The page has no icon: the browser's own request for one is a 404, and no problem.
		if (message.type() === 'error' && !message.location().url.endsWith('/favicon.ico')) {
			problems.push(`console error: ${message.text()} (${message.location().url})`);
		}
	});
	const response = await page.goto(url, {waitUntil: 'domcontentloaded', timeout: 10_000});
	if (response?.status() !== 200) {
		throw new Error(`${url} answered ${response?.status()}`);
	}

	return page;
}

test('a replay in --mode web shows live in two browser tabs: peers, rising progress, then 100.0% completed', async (t) => {
	t.timeout(60_000);
	if (!existsSync(chromiumPath)) {
		t.fail(`${chromiumPath} is missing: this test needs Debian's chromium (apt-get install -y chromium)`);
		return;
	}

	// The browser first: the replay starts as soon as the page is served.
	const browser = await chromium.launch({
		executablePath: chromiumPath,
		headless: true,
		timeout: 30_000,
		args: [
			'--no-sandbox',
			'--disable-gpu',
			'--disable-quic',
			'--no-first-run',
			'--disable-background-networking',
			'--disable-component-update',
			'--disable-sync',
		],
	});
	t.teardown(() => browser.close());
	const dir = await tempDir(t);
	const log = await writeLog(dir, recordedRun());
	const port = await freePort();
	const run = spawnTorrentRx(
		t,
		['--replay', log, '--mode', 'web', '--web-port', String(port), '--no-metrics'],
		{
			timeoutMs: 45_000,
		},
	);
	const url = await webViewUrl(run, 20_000);
	t.is(url, `http://127.0.0.1:${port}/`);
	const problems: string[] = [];
	const tabs = await Promise.all([openTab(browser, url, problems), openTab(browser, url, problems)]);

	// Every tab sees the peers, and the progress rise while the replay runs.
	await Promise.all(
		tabs.map(async (page, index) => {
			const tab = `tab ${index + 1}`;
			// A row appears with `peer-connecting` and gets its client name only with
			// `peer-connected`, 200 ms of recorded time later: wait for the rows as they should end
			// up, not for the first frame that happens to have three of them.
			const withPeers = await until(page, 'three peer rows naming libtorrent 2.0.8', namesEveryPeer);
			t.is(withPeers.name, 'web-view.iso', tab);
			t.deepEqual(
				withPeers.columns,
				['Peer', 'Client', 'Enc', 'From', 'Status', 'Piece', 'Downloaded', 'Down rate', 'Up rate'],
				tab,
			);

			const first = await until(
				page,
				'some progress',
				(view) => view.progress > 0 && view.progress < 1 && view.percent !== '0.0%',
			);
			t.is(first.activity, 'downloading', tab);
			t.regex(first.pieces, /^\d of 10 pieces$/, tab);
			const later = await until(page, `more than ${first.percent}`, (view) => view.progress > first.progress);
			t.true(Number.parseFloat(later.percent) > Number.parseFloat(first.percent), tab);
			t.log(`${tab}: ${first.percent} then ${later.percent}`);
		}),
	);

	const result = await run.result;
	t.is(result.code, 0, result.stderr);
	t.false(result.timedOut);
	t.regex(result.stdout, /^Web view at http:\/\/127\.0\.0\.1:\d+\/\n/);
	t.regex(result.stdout, /Downloaded web-view\.iso: 10 pieces of 10 completed\n$/);

	// The run is over and its server gone: each tab keeps the final state, and knows the run ended.
	for (const [index, page] of tabs.entries()) {
		const tab = `tab ${index + 1}`;
		const final = await until(page, 'the end of the run', (view) => view.connection === 'The run has ended.');
		t.is(final.percent, '100.0%', tab);
		t.is(final.progress, 1, tab);
		t.is(final.activity, 'completed', tab);
		t.is(final.pieces, '10 of 10 pieces', tab);
		t.is(final.peers, '3 peers', tab);
		t.is(final.title, '100.0% web-view.iso – torrent-rx', tab);
		// Ten pieces, round robin from three peers: 4, 3 and 3.
		t.deepEqual(
			Object.fromEntries(final.rows.map((row) => [row.peer, row.cells[6]])),
			{[peers[0] ?? '']: '4', [peers[1] ?? '']: '3', [peers[2] ?? '']: '3'},
			tab,
		);
	}

	t.deepEqual(problems, []);
});

// `new URL(request.url, …)` throws on a request target it cannot parse, such as `//[`: uncaught,
// any local process could bring the whole run down with one request.
test('a request target the URL parser rejects is refused, and the run goes on', async (t) => {
	t.timeout(40_000);
	const dir = await tempDir(t);
	const events = recordedRun();
	const log = await writeLog(dir, events);
	const port = await freePort();
	const run = spawnTorrentRx(
		t,
		['--replay', log, '--mode', 'web', '--web-port', String(port), '--no-metrics'],
		{
			timeoutMs: 30_000,
		},
	);
	await webViewUrl(run, 20_000);
	const answer = await new Promise<string>((resolve) => {
		const socket = net.connect({host: '127.0.0.1', port});
		t.teardown(() => socket.destroy());
		let received = '';
		const timer = setTimeout(() => socket.destroy(), 3000);
		socket.on('data', (chunk: Buffer) => {
			received += chunk.toString('latin1');
		});
		socket.on('error', () => undefined);
		socket.once('close', () => {
			clearTimeout(timer);
			resolve(received);
		});
		socket.write(`GET //[ HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
	});
	t.regex(answer, /^HTTP\/1\.1 4\d\d /);
	const result = await run.result;
	t.is(result.code, 0, result.stderr);
	t.regex(result.stdout, /Downloaded web-view\.iso: 10 pieces of 10 completed\n$/);
});
