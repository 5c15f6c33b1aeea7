/**
 * `--mode web` end to end: the CLI replays a recorded run into its web view, and Debian's
 * chromium (driven by playwright-core) renders it live in two tabs; a run of some files of a
 * torrent shows what is selected and each file's progress.
 */
import {existsSync} from 'node:fs';
import {writeFile} from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
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

/** A file path a stranger's torrent may hold: it must reach the page as text, never as HTML. */
const htmlPath = `web-view/<img src=x onerror="document.title='pwned'">.nfo`;

/**
 * `--select 1,3` of a torrent of ten pieces: part-1.bin (pieces 0–3), the .nfo (piece 4, not
 * selected, so never fetched), part-2.bin (pieces 5–9), then 250 empty files, not selected
 * either: more than the page gets rows for. One peer sends the nine wanted pieces between 2 s and
 * 4.8 s of recorded time: the tab, opened once the page is served, sees part-1.bin fill.
 */
function selectedRun(): TimedEvent[] {
	const peer = '127.0.0.1:6881';
	const empty = Array.from({length: 250}, (_, index) => ({
		number: index + 4,
		path: `web-view/empty/${index + 1}.txt`,
		offset: pieceCount * pieceLength,
		length: 0,
		selected: false,
	}));
	const events: TimedEvent[] = [
		{
			type: 'started',
			name: 'web-view.iso',
			infoHash: 'fa'.repeat(20),
			pieceCount,
			pieceLength,
			totalLength: pieceCount * pieceLength,
			files: [
				{number: 1, path: 'web-view/part-1.bin', offset: 0, length: 4 * pieceLength, selected: true},
				{number: 2, path: htmlPath, offset: 4 * pieceLength, length: pieceLength, selected: false},
				{
					number: 3,
					path: 'web-view/part-2.bin',
					offset: 5 * pieceLength,
					length: 5 * pieceLength,
					selected: true,
				},
				...empty,
			],
			at: 0,
		},
		{type: 'peer-connecting', peer, at: 100},
		{type: 'peer-connected', peer, peerId: '-LT2080-web000000000', at: 300},
		{type: 'peer-unchoked', peer, at: 500},
	];
	const wanted = [0, 1, 2, 3, 5, 6, 7, 8, 9];
	for (const [order, index] of wanted.entries()) {
		const verifiedAt = 2000 + 350 * order;
		events.push(
			{type: 'piece-started', peer, index, at: verifiedAt - 300},
			{type: 'piece-verified', peer, index, bytes: pieceLength, at: verifiedAt},
		);
	}

	events.push({type: 'completed', bytes: wanted.length * pieceLength, at: 4900});
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
	/** The selection's text, empty while it is not shown. */
	selection: string;
	filesShown: boolean;
	fileColumns: string[];
	files: Array<{file: number; skipped: boolean; cells: string[]}>;
	/** The line counting the files left out, empty while it is not shown. */
	moreFiles: string;
	/** Elements a file path could have made, had it been taken as HTML. */
	images: number;
	connection: string;
	title: string;
};

// A string, evaluated in the page: the project's TypeScript has no DOM types.
const readShown = `(() => {
	const text = (id) => document.getElementById(id).textContent;
	const visible = (id) => document.getElementById(id).checkVisibility();
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
		selection: visible('selection') && visible('selection-label') ? text('selection') : '',
		filesShown: visible('files-section'),
		fileColumns: [...document.querySelectorAll('#file-columns th')].map((cell) => cell.textContent),
		files: [...document.querySelectorAll('#files tr')].map((row) => ({
			file: Number(row.dataset.file),
			skipped: row.classList.contains('skipped'),
			cells: [...row.cells].map((cell) => cell.textContent),
		})),
		moreFiles: visible('more-files') ? text('more-files') : '',
		images: document.querySelectorAll('img').length,
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

/** Debian's chromium, headless, closed when the test ends; the test fails when it is missing. */
async function launchChromium(t: ExecutionContext): Promise<Browser | undefined> {
	if (!existsSync(chromiumPath)) {
		t.fail(`${chromiumPath} is missing: this test needs Debian's chromium (apt-get install -y chromium)`);
		return undefined;
	}

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
	return browser;
}

test('a replay in --mode web shows live in two browser tabs: peers, rising progress, then 100.0% completed', async (t) => {
	t.timeout(60_000);
	// The browser first: the replay starts as soon as the page is served.
	const browser = await launchChromium(t);
	if (!browser) {
		return;
	}

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
		// A log without a file list, of a run that takes every file: neither is shown.
		t.false(final.filesShown, tab);
		t.is(final.selection, '', tab);
		// Ten pieces, round robin from three peers: 4, 3 and 3.
		t.deepEqual(
			Object.fromEntries(final.rows.map((row) => [row.peer, row.cells[6]])),
			{[peers[0] ?? '']: '4', [peers[1] ?? '']: '3', [peers[2] ?? '']: '3'},
			tab,
		);
	}

	t.deepEqual(problems, []);
});

test('a replay of a run of some files shows the selection and, below the peers, each file as it fills', async (t) => {
	t.timeout(60_000);
	const browser = await launchChromium(t);
	if (!browser) {
		return;
	}

	const dir = await tempDir(t);
	const log = await writeLog(dir, selectedRun());
	const port = await freePort();
	const run = spawnTorrentRx(
		t,
		['--replay', log, '--mode', 'web', '--web-port', String(port), '--no-metrics'],
		{timeoutMs: 45_000},
	);
	const url = await webViewUrl(run, 20_000);
	const problems: string[] = [];
	const page = await openTab(browser, url, problems);
	const selection = '2 of 253 files, 147.5 kB of 163.8 kB';
	const part1 = ['1', 'web-view/part-1.bin', '65.5 kB'];
	const part2 = ['3', 'web-view/part-2.bin', '81.9 kB'];
	const nfo = ['2', htmlPath, '16.4 kB', 'skip'];

	// While part-1.bin comes in, it leads the list (in progress), part-2.bin waits below it.
	const filling = await until(page, 'part-1.bin part done', (view) => {
		const done = view.files[0]?.cells[3] ?? '';
		return view.files[0]?.file === 1 && done !== '0.0%' && done !== '100.0%';
	});
	t.is(filling.selection, selection);
	t.true(filling.filesShown);
	t.deepEqual(filling.fileColumns, ['#', 'File', 'Size', 'Done']);
	t.deepEqual(filling.files[1]?.cells, [...part2, '0.0%']);
	// Percent of the selection: part of 147.5 kB, not of the torrent's 163.8 kB.
	t.true(filling.progress > 0 && filling.progress < 1);
	// Then part-1.bin is done and part-2.bin fills: it moves up, part-1.bin below it.
	const second = await until(page, 'part-2.bin in progress', (view) => view.files[0]?.file === 3);
	t.deepEqual(second.files[1]?.cells, [...part1, '100.0%']);
	t.is(second.rows.length, 1, 'the peer table is still there above');

	const final = await until(page, 'the end of the run', (view) => view.connection === 'The run has ended.');
	t.is(final.percent, '100.0%');
	t.is(final.pieces, '9 of 10 pieces');
	t.is(final.selection, selection);
	// Done files in the torrent's order, then those not selected, marked: 200 rows and a line.
	t.deepEqual(
		final.files.slice(0, 4).map((file) => [file.file, file.skipped, ...file.cells]),
		[
			[1, false, ...part1, '100.0%'],
			[3, false, ...part2, '100.0%'],
			[2, true, ...nfo],
			[4, true, '4', 'web-view/empty/1.txt', '0 B', 'skip'],
		],
	);
	t.is(final.files.length, 200);
	t.is(final.moreFiles, 'and 53 more files');
	// The path's markup stayed text: no element made of it, no script run.
	t.is(final.images, 0);
	t.is(final.title, '100.0% web-view.iso – torrent-rx');

	const result = await run.result;
	t.is(result.code, 0, result.stderr);
	t.regex(
		result.stdout,
		/Downloaded web-view\.iso \(2 of 253 files, 147\.5 kB of 163\.8 kB\): 9 pieces of 10 completed\n$/,
	);
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
