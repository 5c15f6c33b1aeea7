import {readFile} from 'node:fs/promises';
import http from 'node:http';
import {Observable} from 'rxjs';
import {TorrentRxError} from '../../errors.js';
import {hostAllowed} from '../host-header.js';
import type {RunSnapshot} from '../snapshot.js';

/** The page's own files, and nothing else: no path from a request ever reaches the file system. */
const assets: Record<string, {file: string; type: string}> = {
	'/': {file: 'index.html', type: 'text/html; charset=utf-8'},
	'/app.js': {file: 'app.js', type: 'text/javascript; charset=utf-8'},
	'/style.css': {file: 'style.css', type: 'text/css; charset=utf-8'},
};

const securityHeaders = {
	'content-security-policy': "default-src 'self'",
	'x-content-type-options': 'nosniff',
	'cache-control': 'no-store',
};

/**
 * A browser tab on the event stream: `behind` while its socket buffer is full, `missed` when a
 * snapshot came meanwhile (it gets the latest on drain; one big snapshot is not sent twice).
 */
type Tab = {response: http.ServerResponse; behind: boolean; missed: boolean};

const endEvent = 'event: end\ndata: {}\n\n';

async function loadAssets(): Promise<Map<string, {body: Buffer; type: string}>> {
	const folder = new URL('public/', import.meta.url);
	const loaded = new Map<string, {body: Buffer; type: string}>();
	for (const [route, {file, type}] of Object.entries(assets)) {
		loaded.set(route, {body: await readFile(new URL(file, folder)), type});
	}

	return loaded;
}

/** A web view being served: the page at `url` shows what `show` is given, live, in every open tab. */
export type WebView = {
	url: string;
	show(snapshot: RunSnapshot): void;
	/** The run is over: tabs keep the last snapshot and stop listening. */
	end(): void;
};

/**
 * The open tabs' event streams: each snapshot goes to every tab that keeps up; a tab that is
 * behind gets the latest one when it drains, and one that opens gets the latest at once.
 */
class SnapshotStreams {
	readonly #tabs = new Set<Tab>();
	#latest: string | undefined;
	#ended = false;

	/** Starts the event stream of a tab that asked for `/events`. */
	open(response: http.ServerResponse): void {
		response.writeHead(200, {
			...securityHeaders,
			'content-type': 'text/event-stream; charset=utf-8',
			connection: 'keep-alive',
		});
		// The browser sees the stream open now, not with the first snapshot.
		response.flushHeaders();
		const tab: Tab = {response, behind: false, missed: false};
		if (this.#latest) {
			this.#send(tab, 'snapshot', this.#latest);
		}

		if (this.#ended) {
			response.end(endEvent);
			return;
		}

		this.#tabs.add(tab);
		response.on('drain', () => {
			tab.behind = false;
			if (tab.missed && this.#latest) {
				tab.missed = false;
				this.#send(tab, 'snapshot', this.#latest);
			}
		});
		response.on('close', () => this.#tabs.delete(tab));
	}

	show(snapshot: RunSnapshot): void {
		this.#latest = JSON.stringify(snapshot);
		for (const tab of this.#tabs) {
			if (tab.behind) {
				tab.missed = true;
			} else {
				this.#send(tab, 'snapshot', this.#latest);
			}
		}
	}

	/** The run is over: open tabs get the end event, and a tab opened later gets it at once. */
	end(): void {
		this.#ended = true;
		this.endTabs();
	}

	/** Sends every open tab its end event and lets go of it. */
	endTabs(): void {
		for (const tab of this.#tabs) {
			tab.response.end(endEvent);
		}

		this.#tabs.clear();
	}

	#send(tab: Tab, event: string, data: string): void {
		tab.behind = !tab.response.write(`event: ${event}\ndata: ${data}\n\n`);
	}
}

/** What answering a request needs: the name we serve, the page's files once read, the tabs. */
type Site = {
	host: string;
	port: () => number;
	files: Map<string, {body: Buffer; type: string}> | undefined;
	streams: SnapshotStreams;
};

/** Answers one request: a page file, the event stream, or a refusal with its status. */
function answer(request: http.IncomingMessage, response: http.ServerResponse, site: Site): void {
	// DNS rebinding: a page on another name must not read the run (names, peers, tracker).
	if (!hostAllowed(request.headers.host, {host: site.host, port: site.port()})) {
		response.writeHead(421, securityHeaders).end();
		return;
	}

	if (request.method !== 'GET' && request.method !== 'HEAD') {
		response.writeHead(405, {...securityHeaders, allow: 'GET, HEAD'}).end();
		return;
	}

	// Any local program can connect: a target the URL parser refuses is a 400, not a crash.
	const target = request.url ?? '/';
	if (!URL.canParse(target, 'http://localhost')) {
		response.writeHead(400, securityHeaders).end();
		return;
	}

	const route = new URL(target, 'http://localhost').pathname;
	if (route === '/events') {
		if (request.method === 'HEAD') {
			response.writeHead(200, {...securityHeaders, 'content-type': 'text/event-stream; charset=utf-8'});
			response.end();
		} else {
			site.streams.open(response);
		}

		return;
	}

	const asset = site.files?.get(route);
	if (!asset) {
		response.writeHead(404, securityHeaders).end('not found');
		return;
	}

	response.writeHead(200, {...securityHeaders, 'content-type': asset.type});
	response.end(request.method === 'HEAD' ? undefined : asset.body);
}

/**
 * Serves the web view at `http://HOST:PORT/` while subscribed, and emits it once listening.
 * Every open tab gets each snapshot as a Server-Sent Event; a tab that cannot keep up skips to
 * the latest one instead of holding snapshots in memory, so the run never waits for a browser.
 */
export function serveWebView({host, port}: {host: string; port: number}): Observable<WebView> {
	return new Observable<WebView>((subscriber) => {
		const streams = new SnapshotStreams();
		const boundPort = () => {
			const address = server.address();
			return typeof address === 'object' && address ? address.port : port;
		};

		const site: Site = {host, port: boundPort, files: undefined, streams};
		const server = http.createServer((request, response) => answer(request, response, site));
		server.once('error', (error) =>
			subscriber.error(new TorrentRxError(`cannot serve the web view on ${host}:${port}`, {cause: error})),
		);
		loadAssets().then(
			(loaded) => {
				// Unsubscribed while the files were read: nothing may start listening now.
				if (subscriber.closed) {
					return;
				}

				site.files = loaded;
				server.listen(port, host, () => {
					subscriber.next({
						url: `http://${host.includes(':') ? `[${host}]` : host}:${boundPort()}/`,
						show: (snapshot) => streams.show(snapshot),
						end: () => streams.end(),
					});
				});
			},
			(error: unknown) =>
				subscriber.error(new TorrentRxError('cannot read the web view files', {cause: error})),
		);
		return () => {
			// Open tabs get their end event before the connection goes; one that does not read
			// is cut off a second later, without holding the process open.
			server.close();
			server.closeIdleConnections();
			streams.endTabs();
			setTimeout(() => server.closeAllConnections(), 1000).unref();
		};
	});
}
