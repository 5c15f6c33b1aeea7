/**
 * The web view's server, for real on 127.0.0.1 (port 0): what it serves, what it refuses, and
 * how its Server-Sent Events reach tabs that connect early, late, after the end, or stop reading.
 */
import {spawn} from 'node:child_process';
import {readFile} from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import process from 'node:process';
import test, {type ExecutionContext} from 'ava';
import {firstValueFrom} from 'rxjs';
import {TorrentRxError} from '../../../source/errors.js';
import type {TimedEvent} from '../../../source/events/events.js';
import {initialRunState, reduceRunState} from '../../../source/events/run-state.js';
import {type RunSnapshot, snapshot} from '../../../source/ui/snapshot.js';
import {serveWebView, type WebView} from '../../../source/ui/web/web-server.js';
import {rawStatus} from '../../helpers/raw-http.js';
import {freePort, killProcess} from '../../helpers/swarm-fixture.js';

const publicFolder = new URL('../../../source/ui/web/public/', import.meta.url);

const recorded: TimedEvent[] = [
	{
		type: 'started',
		name: 'web.iso',
		infoHash: 'cd'.repeat(20),
		pieceCount: 4,
		pieceLength: 1000,
		totalLength: 4000,
		at: 0,
	},
	{type: 'peer-connected', peer: '127.0.0.1:6881', peerId: '-LT2080-abcdefghijkl', at: 100},
	{type: 'peer-unchoked', peer: '127.0.0.1:6881', at: 150},
	{type: 'piece-verified', peer: '127.0.0.1:6881', index: 0, bytes: 1000, at: 400},
	{type: 'piece-verified', peer: '127.0.0.1:6881', index: 1, bytes: 1000, at: 800},
	{type: 'piece-verified', peer: '127.0.0.1:6881', index: 2, bytes: 1000, at: 1200},
	{type: 'piece-verified', peer: '127.0.0.1:6881', index: 3, bytes: 1000, at: 1600},
	{type: 'completed', bytes: 4000, at: 1600},
];

/** The snapshot after the first `count` recorded events: distinct for every count. */
const after = (count: number): RunSnapshot =>
	snapshot(recorded.slice(0, count).reduce(reduceRunState, initialRunState));

/** A round trip through JSON, as a tab sees a snapshot. */
const asSent = (value: RunSnapshot): unknown => JSON.parse(JSON.stringify(value));

/** Serves a web view on 127.0.0.1 (a port the kernel picks) until the test ends. */
function startView(t: ExecutionContext): Promise<WebView> {
	return new Promise((resolve, reject) => {
		const subscription = serveWebView({host: '127.0.0.1', port: 0}).subscribe({next: resolve, error: reject});
		t.teardown(() => subscription.unsubscribe());
	});
}

const portOf = (view: WebView) => Number(new URL(view.url).port);

type Reply = {status: number; headers: http.IncomingHttpHeaders; body: string};

/** One request on its own connection, with `path` sent exactly as given (no client-side normalising). */
function request(view: WebView, path: string, method = 'GET'): Promise<Reply> {
	return new Promise((resolve, reject) => {
		const outgoing = http.request(
			{host: '127.0.0.1', port: portOf(view), path, method, agent: false, timeout: 5000},
			(response) => {
				let body = '';
				response.setEncoding('utf8');
				response.on('data', (chunk: string) => {
					body += chunk;
				});
				response.once('end', () =>
					resolve({status: response.statusCode ?? 0, headers: response.headers, body}),
				);
				response.once('error', reject);
			},
		);
		outgoing.once('timeout', () => outgoing.destroy(new Error(`${method} ${path} timed out`)));
		outgoing.once('error', reject);
		outgoing.end();
	});
}

type SseEvent = {event: string; data: string};

/** Parses one event block (`event: …\ndata: …`). */
function parseEvent(block: string): SseEvent {
	const event: SseEvent = {event: 'message', data: ''};
	for (const line of block.split('\n')) {
		if (line.startsWith('event: ')) {
			event.event = line.slice('event: '.length);
		} else if (line.startsWith('data: ')) {
			event.data = line.slice('data: '.length);
		}
	}

	return event;
}

/**
 * A browser tab on `/events`, as far as the server can tell. The server sends the response head
 * with the first event, so `response` settles only once there is a snapshot to send.
 */
type Tab = {
	response: Promise<{status: number; headers: http.IncomingHttpHeaders}>;
	/** The next event, waiting at most `timeoutMs`; rejects if the stream closes first. */
	next(timeoutMs?: number): Promise<SseEvent>;
	/** Resolves once the stream is closed, with whether the server ended it properly. */
	closed: Promise<{complete: boolean}>;
	/** Events received and not yet taken by `next`. */
	pending(): number;
};

function openTab(t: ExecutionContext, view: WebView): Tab {
	const queue: SseEvent[] = [];
	const waiters = new Set<() => void>();
	let isClosed = false;
	let buffer = '';
	const wake = () => {
		for (const waiter of waiters) {
			waiter();
		}
	};

	let markClosed: (how: {complete: boolean}) => void = () => undefined;
	const closed = new Promise<{complete: boolean}>((resolve) => {
		markClosed = (how) => {
			if (!isClosed) {
				isClosed = true;
				wake();
				resolve(how);
			}
		};
	});
	const outgoing = http.get(new URL('events', view.url), {agent: false});
	t.teardown(() => outgoing.destroy());
	const response = new Promise<http.IncomingMessage>((resolve, reject) => {
		outgoing.once('response', resolve);
		outgoing.once('error', (error) => {
			markClosed({complete: false});
			reject(error);
		});
	});
	// Awaited by whoever asks; a connection that fails shows up as a closed stream too.
	response.catch(() => undefined);
	response.then(
		(incoming) => {
			incoming.setEncoding('utf8');
			incoming.on('data', (chunk: string) => {
				buffer += chunk;
				for (let boundary = buffer.indexOf('\n\n'); boundary !== -1; boundary = buffer.indexOf('\n\n')) {
					queue.push(parseEvent(buffer.slice(0, boundary)));
					buffer = buffer.slice(boundary + 2);
				}

				wake();
			});
			// A reset (the server closing every connection) is an ending like any other here.
			incoming.on('error', () => undefined);
			incoming.once('close', () => markClosed({complete: incoming.complete}));
		},
		() => undefined,
	);
	const next = (timeoutMs = 2000) =>
		new Promise<SseEvent>((resolve, reject) => {
			const check = () => {
				const event = queue.shift();
				if (event) {
					settle(() => resolve(event));
				} else if (isClosed) {
					settle(() => reject(new Error('the event stream closed')));
				}
			};

			const timer = setTimeout(
				() => settle(() => reject(new Error(`no event within ${timeoutMs} ms`))),
				timeoutMs,
			);
			const settle = (how: () => void) => {
				clearTimeout(timer);
				waiters.delete(check);
				how();
			};

			waiters.add(check);
			check();
		});
	return {
		response: response.then((incoming) => ({status: incoming.statusCode ?? 0, headers: incoming.headers})),
		next,
		closed,
		pending: () => queue.length,
	};
}

/** The next event of `tab`, which must be a snapshot: its data, parsed. */
async function nextSnapshot(t: ExecutionContext, tab: Tab): Promise<unknown> {
	const {event, data} = await tab.next();
	t.is(event, 'snapshot');
	return JSON.parse(data);
}

/** How many events each of `tabs` holds unread after a pause: 0 when nothing more was sent. */
async function settleAndCount(tabs: Tab[], ms = 150): Promise<number[]> {
	await new Promise((resolve) => setTimeout(resolve, ms));
	return tabs.map((tab) => tab.pending());
}

test('serves the page, its script and its stylesheet with their types and the security headers', async (t) => {
	t.timeout(10_000);
	const view = await startView(t);
	t.regex(view.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
	t.not(portOf(view), 0);
	const assets = [
		{path: '/', file: 'index.html', type: 'text/html; charset=utf-8'},
		{path: '/app.js', file: 'app.js', type: 'text/javascript; charset=utf-8'},
		{path: '/style.css', file: 'style.css', type: 'text/css; charset=utf-8'},
	];
	for (const {path, file, type} of assets) {
		const reply = await request(view, path);
		t.is(reply.status, 200, path);
		t.is(reply.headers['content-type'], type, path);
		t.is(reply.headers['content-security-policy'], "default-src 'self'", path);
		t.is(reply.headers['x-content-type-options'], 'nosniff', path);
		t.is(reply.headers['cache-control'], 'no-store', path);
		t.is(reply.body, await readFile(new URL(file, publicFolder), 'utf8'), path);
	}

	// A query string does not change which file is served.
	t.is((await request(view, '/app.js?v=2')).headers['content-type'], 'text/javascript; charset=utf-8');
});

test('HEAD answers with the headers and no body', async (t) => {
	t.timeout(10_000);
	const view = await startView(t);
	const reply = await request(view, '/app.js', 'HEAD');
	t.is(reply.status, 200);
	t.is(reply.headers['content-type'], 'text/javascript; charset=utf-8');
	t.is(reply.headers['x-content-type-options'], 'nosniff');
	t.is(reply.body, '');
});

test('unknown paths and traversal attempts are 404 and never reach the file system', async (t) => {
	t.timeout(10_000);
	const view = await startView(t);
	const packageJson = await readFile(new URL('../../../package.json', import.meta.url), 'utf8');
	const paths = [
		'/nothing-here',
		'/index.html',
		'/package.json',
		'/web-server.ts',
		'/public/app.js',
		'/public/index.html',
		'/../package.json',
		'/../../package.json',
		'/%2e%2e/package.json',
		'/%2E%2E/%2E%2E/package.json',
		'/..%2fpackage.json',
		'/..%2f..%2fpackage.json',
		'/..%5c..%5cpackage.json',
		'/..\\..\\package.json',
		'/app.js/..%2f..%2fweb-server.ts',
		'/app.js/../../web-server.ts',
		'/app.js%00.ts',
		'/style.css/',
		'/events/../../package.json',
		'/%2fetc%2fpasswd',
		'/etc/passwd',
	];
	for (const path of paths) {
		const reply = await request(view, path);
		t.is(reply.status, 404, path);
		t.is(reply.body, 'not found', path);
		t.is(reply.headers['x-content-type-options'], 'nosniff', path);
		t.false(reply.body.includes(packageJson.slice(0, 40)), path);
	}
});

test('methods other than GET and HEAD are 405 with Allow: GET, HEAD', async (t) => {
	t.timeout(10_000);
	const view = await startView(t);
	for (const [method, path] of [
		['POST', '/'],
		['POST', '/events'],
		['PUT', '/app.js'],
		['DELETE', '/style.css'],
		['PATCH', '/'],
		['OPTIONS', '/'],
	] as const) {
		const reply = await request(view, path, method);
		t.is(reply.status, 405, `${method} ${path}`);
		t.is(reply.headers.allow, 'GET, HEAD', `${method} ${path}`);
	}
});

test('DNS rebinding: a Host that is not ours, or none, is 421 on every path, and ours is served', async (t) => {
	t.timeout(10_000);
	const view = await startView(t);
	view.show(after(3));
	const port = portOf(view);
	for (const path of ['/', '/events', '/app.js']) {
		for (const host of [
			`evil.example:${port}`,
			'evil.example',
			`127.0.0.1.nip.io:${port}`,
			`127.0.0.1:${port + 1}`,
		]) {
			t.is(await rawStatus(port, `GET ${path} HTTP/1.1\r\nHost: ${host}`), 421, `${path} ${host}`);
		}

		t.is(await rawStatus(port, `GET ${path} HTTP/1.0`), 421, `${path} without Host`);
		for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]) {
			t.is(await rawStatus(port, `GET ${path} HTTP/1.1\r\nHost: ${host}`), 200, `${path} ${host}`);
		}
	}
});

test('a tab that connects after show() gets the latest snapshot first, then each later one', async (t) => {
	t.timeout(10_000);
	const view = await startView(t);
	view.show(after(1));
	view.show(after(2));
	view.show(after(3));
	const tab = openTab(t, view);
	const {status, headers} = await tab.response;
	t.is(status, 200);
	t.is(headers['content-type'], 'text/event-stream; charset=utf-8');
	t.is(headers['content-security-policy'], "default-src 'self'");
	t.is(headers['x-content-type-options'], 'nosniff');
	t.is(headers['cache-control'], 'no-store');
	t.deepEqual(await nextSnapshot(t, tab), asSent(after(3)));
	// Only the latest: the earlier ones are not replayed.
	t.deepEqual(await settleAndCount([tab]), [0]);
	view.show(after(4));
	t.deepEqual(await nextSnapshot(t, tab), asSent(after(4)));
});

test('a tab that connects before the first show() gets that snapshot when it comes', async (t) => {
	t.timeout(10_000);
	const view = await startView(t);
	const tab = openTab(t, view);
	// The headers come once the server holds the stream: only then is the tab connected before
	// the show(), and not merely opened (a tab that connects later gets the latest too).
	t.is((await tab.response).status, 200);
	t.deepEqual(await settleAndCount([tab]), [0]);
	view.show(after(1));
	t.deepEqual(await nextSnapshot(t, tab), asSent(after(1)));
});

test('two tabs both receive every later snapshot, in order', async (t) => {
	t.timeout(10_000);
	const view = await startView(t);
	view.show(after(1));
	const first = openTab(t, view);
	const second = openTab(t, view);
	// Their first snapshot says the server has them both.
	t.deepEqual(await nextSnapshot(t, first), asSent(after(1)));
	t.deepEqual(await nextSnapshot(t, second), asSent(after(1)));
	for (let count = 2; count <= recorded.length; count++) {
		view.show(after(count));
	}

	for (const tab of [first, second]) {
		for (let count = 2; count <= recorded.length; count++) {
			t.deepEqual(await nextSnapshot(t, tab), asSent(after(count)));
		}
	}

	t.deepEqual(await settleAndCount([first, second]), [0, 0]);
});

test('end() sends an end event to every open tab and closes their streams', async (t) => {
	t.timeout(10_000);
	const view = await startView(t);
	view.show(after(1));
	const first = openTab(t, view);
	const second = openTab(t, view);
	t.deepEqual(await nextSnapshot(t, first), asSent(after(1)));
	t.deepEqual(await nextSnapshot(t, second), asSent(after(1)));
	view.show(after(recorded.length));
	view.end();
	for (const tab of [first, second]) {
		t.deepEqual(await nextSnapshot(t, tab), asSent(after(recorded.length)));
		t.deepEqual(await tab.next(), {event: 'end', data: '{}'});
		t.deepEqual(await tab.closed, {complete: true});
		t.is(tab.pending(), 0);
	}

	// The page itself is still served.
	t.is((await request(view, '/')).status, 200);
});

test('a tab that connects after end() gets the last snapshot, then end, and its stream closes', async (t) => {
	t.timeout(10_000);
	const view = await startView(t);
	view.show(after(2));
	view.show(after(recorded.length));
	view.end();
	const tab = openTab(t, view);
	t.is((await tab.response).status, 200);
	t.deepEqual(await nextSnapshot(t, tab), asSent(after(recorded.length)));
	t.deepEqual(await tab.next(), {event: 'end', data: '{}'});
	t.deepEqual(await tab.closed, {complete: true});
	t.is(tab.pending(), 0);
});

test('a port already taken errors the Observable with a TorrentRxError naming the port', async (t) => {
	t.timeout(10_000);
	const blocker = net.createServer();
	await new Promise<void>((resolve, reject) => {
		blocker.once('error', reject);
		blocker.listen(0, '127.0.0.1', resolve);
	});
	t.teardown(() => new Promise<void>((resolve) => blocker.close(() => resolve())));
	const address = blocker.address();
	const port = typeof address === 'object' && address ? address.port : 0;
	t.not(port, 0);
	const error = await t.throwsAsync(firstValueFrom(serveWebView({host: '127.0.0.1', port})), {
		instanceOf: TorrentRxError,
	});
	t.true(error?.message.includes(`127.0.0.1:${port}`), error?.message);
	t.is((error?.cause as NodeJS.ErrnoException | undefined)?.code, 'EADDRINUSE');
});

/** Whether a TCP connection to 127.0.0.1:`port` is refused. */
function refused(port: number): Promise<boolean> {
	return new Promise((resolve) => {
		const socket = net.connect({host: '127.0.0.1', port});
		socket.once('connect', () => {
			socket.destroy();
			resolve(false);
		});
		socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
	});
}

test('unsubscribing closes the server and ends every open stream', async (t) => {
	t.timeout(10_000);
	let resolveView: (view: WebView) => void = () => undefined;
	const started = new Promise<WebView>((resolve) => {
		resolveView = resolve;
	});
	const subscription = serveWebView({host: '127.0.0.1', port: 0}).subscribe({
		next: (view) => resolveView(view),
		error: (error: unknown) => t.fail(String(error)),
	});
	t.teardown(() => subscription.unsubscribe());
	const view = await started;
	const port = portOf(view);
	view.show(after(1));
	const tab = openTab(t, view);
	t.deepEqual(await nextSnapshot(t, tab), asSent(after(1)));
	t.is((await request(view, '/')).status, 200);
	t.false(await refused(port));
	subscription.unsubscribe();
	// The run is over for the tab too: it gets the end event before its stream closes.
	t.deepEqual(await tab.next(), {event: 'end', data: '{}'});
	t.deepEqual(await tab.closed, {complete: true});
	t.is(tab.pending(), 0);
	// The listening socket is closed by the time the event loop has turned a few times.
	const deadline = Date.now() + 2000;
	let isRefused = await refused(port);
	while (!isRefused && Date.now() < deadline) {
		await new Promise((resolve) => setTimeout(resolve, 20));
		isRefused = await refused(port);
	}

	t.true(isRefused, `127.0.0.1:${port} still accepts connections`);
});

test('a tab that stops reading neither holds up the others nor queues snapshots: it skips to the latest', async (t) => {
	t.timeout(30_000);
	const view = await startView(t);
	// Snapshots of 12 KiB: each fits under the socket's 16 KiB high-water mark (see below for
	// bigger ones), and a few hundred fill every buffer between the server and a stalled tab.
	const padding = 'x'.repeat(12 * 1024);
	const big = (index: number): RunSnapshot => ({...after(2), name: `snap ${index}`, tracker: padding});
	t.true(`event: snapshot\ndata: ${JSON.stringify(big(99_999))}\n\n`.length < 16 * 1024);
	const shown = 2500;
	view.show(big(0));
	const fast = openTab(t, view);
	t.is(JSON.parse((await fast.next()).data).name, 'snap 0');

	// The stalled tab: a raw HTTP/1.0 request (no chunked framing), paused once its first snapshot is in.
	const stalled = net.connect({host: '127.0.0.1', port: portOf(view)});
	t.teardown(() => stalled.destroy());
	stalled.on('error', () => undefined);
	let received = '';
	await new Promise<void>((resolve, reject) => {
		const onData = (chunk: Buffer) => {
			received += chunk.toString('latin1');
			if (received.includes('"name":"snap 0"') && received.endsWith('\n\n')) {
				stalled.off('data', onData);
				stalled.pause();
				resolve();
			}
		};

		stalled.on('data', onData);
		stalled.once('close', () => reject(new Error('the stalled tab was closed')));
		stalled.write(`GET /events HTTP/1.0\r\nHost: 127.0.0.1:${portOf(view)}\r\n\r\n`);
	});
	t.regex(received, /^HTTP\/1\.1 200 /);
	received = received.slice(received.indexOf('\r\n\r\n') + 4);

	// The fast tab gets every snapshot, in turn, while the other one reads nothing at all.
	for (let index = 1; index <= shown; index++) {
		view.show(big(index));
		const {event, data} = await fast.next(5000);
		if (event !== 'snapshot' || JSON.parse(data).name !== `snap ${index}`) {
			t.fail(`the fast tab got ${event} ${data.slice(0, 60)}… instead of snap ${index}`);
			return;
		}
	}

	t.deepEqual(await settleAndCount([fast]), [0]);

	// Reading again, the stalled tab catches up with the latest snapshot…
	await new Promise<void>((resolve, reject) => {
		const timer = setTimeout(
			() => reject(new Error('the stalled tab never got the latest snapshot')),
			10_000,
		);
		stalled.on('data', (chunk: Buffer) => {
			received += chunk.toString('latin1');
			if (received.includes(`"name":"snap ${shown}"`) && received.endsWith('\n\n')) {
				clearTimeout(timer);
				resolve();
			}
		});
		stalled.resume();
	});
	const names = received
		.split('\n\n')
		.filter((block) => block.startsWith('event: snapshot\n'))
		.map((block) => Number(/"name":"snap (\d+)"/.exec(block)?.[1]));
	t.is(names.at(-1), shown);
	t.deepEqual(
		names,
		[...names].sort((a, b) => a - b),
		'snapshots arrive in order',
	);
	// …having skipped most of them: what was written for it is bounded by the socket buffers (a
	// few MB on loopback), not by the ~31 MB of snapshots shown while it was stalled.
	t.log(`the stalled tab received ${names.length} of ${shown + 1} snapshots`);
	t.true(names.length < shown / 2, `the stalled tab received ${names.length} of ${shown + 1} snapshots`);
});

/** How many snapshot events `tab` receives in `ms`. */
async function countFor(tab: Tab, ms: number): Promise<number> {
	let count = 0;
	const deadline = Date.now() + ms;
	for (;;) {
		const left = deadline - Date.now();
		if (left <= 0) {
			return count;
		}

		try {
			if ((await tab.next(left)).event === 'snapshot') {
				count++;
			}
		} catch {
			return count;
		}
	}
}

// A write bigger than the socket's 16 KiB high-water mark always returns false: the tab is behind
// at once, and if `drain` resent the latest snapshot regardless, one show() would become an
// endless stream of copies (it did, before tabs tracked whether they missed one).
test('a snapshot bigger than 16 KiB is sent to a tab once, not again on every drain', async (t) => {
	t.timeout(10_000);
	const view = await startView(t);
	view.show({...after(2), name: 'big', tracker: 'x'.repeat(20 * 1024)});
	const tab = openTab(t, view);
	// The one copy, waited for (up to 2 s); then half a second in which no other may follow.
	t.like(await nextSnapshot(t, tab), {name: 'big'});
	t.is(await countFor(tab, 500), 0);
});

// Unsubscribing before the files are read must stop the server from listening once they are:
// nothing would close it then, and the process would never exit. In a child process, so that a
// leaked server dies with it.
test('unsubscribing before the server is listening leaves nothing listening', async (t) => {
	t.timeout(20_000);
	const port = await freePort();
	const script = [
		`const {serveWebView} = await import(${JSON.stringify(new URL('../../../source/ui/web/web-server.ts', import.meta.url).href)});`,
		`serveWebView({host: '127.0.0.1', port: ${port}}).subscribe({error: () => undefined}).unsubscribe();`,
		"process.stdout.write('unsubscribed\\n');",
	].join('\n');
	const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
		stdio: ['ignore', 'pipe', 'inherit'],
	});
	t.teardown(() => killProcess(child));
	const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
	await new Promise<void>((resolve, reject) => {
		child.stdout.on('data', (chunk: Buffer) => {
			if (chunk.toString().includes('unsubscribed')) {
				resolve();
			}
		});
		child.once('exit', (code) => reject(new Error(`the child exited (${code}) before unsubscribing`)));
	});
	// With nothing subscribed, nothing keeps it alive: it exits once the files are read.
	const timeout = new Promise<'still running'>((resolve) => setTimeout(() => resolve('still running'), 5000));
	const outcome = await Promise.race([exited, timeout]);
	t.is(
		outcome,
		0,
		`the process is ${outcome}; 127.0.0.1:${port} refuses connections: ${await refused(port)}`,
	);
});
