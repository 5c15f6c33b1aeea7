import {lookup as dnsLookup} from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type {LookupFunction} from 'node:net';
import process from 'node:process';
import {Observable, type Subscriber, throwError} from 'rxjs';
import {isLocalAddress} from '../peer/address-scope.js';
import {type BodySink, readRange} from './range-body.js';
import {planResponse} from './range-response.js';
import {type AddressScope, hopAccess, publicOnlyLookup} from './seed-address.js';
import {WebSeedError} from './web-seed-error.js';

export {WebSeedError, type WebSeedFailureKind} from './web-seed-error.js';

/** A byte range of one URL, `end` inclusive (RFC 9110 §14.1.2). */
export type RangeRequest = {url: string; start: number; end: number};

export type RangeClientOptions = {
	/** No byte for this long (connecting, waiting for headers, or between body chunks): `stall`. */
	stallTimeoutMs: number;
	/** Redirects followed at most (RFC 9110 §15.4; a few: 5). */
	maxRedirects: number;
	/** Keep-alive connections per host at most. */
	maxSocketsPerHost: number;
	/** DNS lookup, for tests. */
	lookup?: LookupFunction;
	/** Certificates trusted for HTTPS instead of the system's, for tests with a self-signed server. */
	ca?: string | Buffer;
	/**
	 * Which addresses are the user's own network (`isLocalAddress`), for tests: on 127.0.0.1 every
	 * server is local, so a test of the redirect rule says which of them to count as public.
	 */
	isLocal?: AddressScope;
};

/** One web seed's range requests, over the keep-alive connections of one `rangeClient`. */
export type RangeClient = {
	/** The bytes start..end of url, in order, as chunks (never buffered whole), then complete; an error is a WebSeedError. Unsubscribing aborts the request. */
	fetch(request: RangeRequest): Observable<Buffer>;
};

type AgentPair = {http: http.Agent; https: https.Agent};

/**
 * Connections that may reach any address, and connections whose every DNS answer was checked to be
 * public (seed-address.ts): a pool is keyed by host and port only, so a socket opened under the
 * looser rule must not serve a request under the stricter one.
 */
type Agents = {anywhere: AgentPair; publicOnly: AgentPair};

type FetchOptions = Omit<RangeClientOptions, 'isLocal'> & {isLocal: AddressScope};

const userAgent = 'torrent-rx/0.1';

/**
 * One web seed's HTTP client: keep-alive agents (http and https), destroyed on teardown. There are
 * two pairs rather than one, for the SSRF rule (`Agents`); a host reached both ways can hold up to
 * twice `maxSocketsPerHost` connections.
 */
export function rangeClient(options: RangeClientOptions): Observable<RangeClient> {
	return new Observable<RangeClient>((subscriber) => {
		const isLocal = options.isLocal ?? isLocalAddress;
		const agents: Agents = {
			anywhere: agentPair(options, options.lookup),
			publicOnly: agentPair(
				options,
				publicOnlyLookup(options.lookup ?? (dnsLookup as LookupFunction), isLocal),
			),
		};
		let closed = false;
		subscriber.next({
			fetch: (request) =>
				closed ? throwError(() => clientClosed()) : fetchRange(agents, {...options, isLocal}, request),
		});
		return () => {
			// A destroyed agent would still open (and pool) new connections.
			closed = true;
			for (const pair of [agents.anywhere, agents.publicOnly]) {
				pair.http.destroy();
				pair.https.destroy();
			}
		};
	});
}

function clientClosed(): WebSeedError {
	return new WebSeedError('connect', 'the web seed client is closed', {retryable: false});
}

function agentPair(options: RangeClientOptions, lookup: LookupFunction | undefined): AgentPair {
	// An agent's own options override a request's when it opens a connection, so `lookup` set here
	// is the one every connection of this pool was opened with.
	const pooling: http.AgentOptions = {
		keepAlive: true,
		maxSockets: options.maxSocketsPerHost,
		maxFreeSockets: options.maxSocketsPerHost,
		...(lookup ? {lookup} : {}),
	};
	return {
		http: new http.Agent(pooling),
		https: new https.Agent({...pooling, ...(options.ca === undefined ? {} : {ca: options.ca})}),
	};
}

function fetchRange(agents: Agents, options: FetchOptions, request: RangeRequest): Observable<Buffer> {
	return new Observable<Buffer>((subscriber) => {
		const fetch = new RangeFetch(agents, options, request, subscriber);
		fetch.start();
		return () => fetch.abort();
	});
}

/** Resets that mean the connection died under the request, not that the server refused it. */
const resetCodes = new Set(['ECONNRESET', 'EPIPE', 'ECONNABORTED']);

/** TLS failures no retry cures: a certificate we do not trust, or no TLS server at all. */
const certificateCode = /CERT|^ERR_TLS_|^ERR_SSL_/;

/**
 * One range request through its redirects: the state of the hop under way, the stall watchdog,
 * and the one way out (`finish`, `fail` or `abort`) that settles it exactly once.
 */
class RangeFetch {
	private outgoing: http.ClientRequest | undefined;
	private target: URL | undefined;
	private responded = false;
	private watchdog: NodeJS.Timeout | undefined;
	private settled = false;
	/** Where the seed's own URL connected, once known: it decides where its redirects may go. */
	private seedIsLocal: boolean | undefined;
	private redirects = 0;
	private retriedReusedSocket = false;
	private readonly sink: BodySink = {
		activity: () => this.watchdog?.refresh(),
		chunk: (bytes) => this.subscriber.next(bytes),
		done: () => this.finish(),
		fail: (error) => this.fail(error),
	};

	constructor(
		private readonly agents: Agents,
		private readonly options: FetchOptions,
		private readonly request: RangeRequest,
		private readonly subscriber: Subscriber<Buffer>,
	) {}

	/** Checks the request and the seed's URL, then asks it. */
	start(): void {
		const {url, start, end} = this.request;
		if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start) {
			this.fail(new WebSeedError('bad-range', `bytes ${start}-${end} is not a byte range`));
			return;
		}

		let seed: URL;
		try {
			seed = new URL(url);
		} catch (error) {
			this.fail(new WebSeedError('refused-address', 'not a URL', {cause: error}));
			return;
		}

		if (seed.protocol !== 'http:' && seed.protocol !== 'https:') {
			this.fail(new WebSeedError('refused-address', `a web seed is fetched over HTTP, not ${seed.protocol}`));
			return;
		}

		this.ask(seed);
	}

	/** Unsubscribed: abort whatever is under way (a finished fetch leaves its connection pooled). */
	abort(): void {
		clearTimeout(this.watchdog);
		if (!this.settled) {
			this.settled = true;
			this.outgoing?.destroy();
		}
	}

	/** One hop: the seed's URL, a redirect's target, or the same again after a dropped keep-alive connection. */
	private ask(target: URL): void {
		const access = hopAccess(target, this.seedIsLocal, this.options.isLocal);
		if ('refused' in access) {
			this.target = target;
			this.fail(new WebSeedError('refused-address', access.refused));
			return;
		}

		const pair = access.publicOnly ? this.agents.publicOnly : this.agents.anywhere;
		const headers = {
			range: `bytes=${this.request.start}-${this.request.end}`,
			// RFC 9110 §14.1: a range of a compressed body would be bytes of the compressed form.
			'accept-encoding': 'identity',
			'user-agent': userAgent,
		};
		const outgoing =
			target.protocol === 'https:'
				? https.get(target, {agent: pair.https, headers})
				: http.get(target, {agent: pair.http, headers});
		this.outgoing = outgoing;
		this.target = target;
		this.responded = false;
		outgoing.once('socket', () => this.arm());
		outgoing.once('response', (response) => this.respond(target, response));
		// Kept for the request's whole life: a destroyed request may still report "socket hang up".
		outgoing.on('error', (error) => {
			if (outgoing === this.outgoing) {
				this.lost(target, outgoing, error);
			}
		});
	}

	private respond(target: URL, response: http.IncomingMessage): void {
		this.responded = true;
		this.watchdog?.refresh();
		if (this.redirects === 0) {
			// Judged on the address the connection reached, whatever name or literal led there; an
			// unknown one counts as public, the stricter rule for the redirects to come.
			this.seedIsLocal = this.options.isLocal(response.socket?.remoteAddress ?? '');
		}

		const plan = planResponse(response.statusCode ?? 0, response.headers, this.request);
		if ('body' in plan) {
			readRange(response, plan.body, this.sink);
			return;
		}

		// A body we do not want is not read: its length is the server's to choose, so the
		// connection is closed rather than drained.
		response.destroy();
		if ('error' in plan) {
			this.fail(plan.error);
		} else {
			this.redirect(target, plan.redirect);
		}
	}

	/** RFC 9110 §15.4: the Location, resolved against the URL that sent it, asked with the same range. */
	private redirect(from: URL, location: string): void {
		if (this.redirects >= this.options.maxRedirects) {
			this.fail(new WebSeedError('redirect', `more than ${this.options.maxRedirects} redirects`));
			return;
		}

		let next: URL;
		try {
			next = new URL(location, from);
		} catch (error) {
			this.fail(new WebSeedError('redirect', `redirected to ${location}, not a URL`, {cause: error}));
			return;
		}

		if (next.protocol !== 'http:' && next.protocol !== 'https:') {
			this.fail(
				new WebSeedError('redirect', `redirected to ${next.href}: only http: and https: are followed`),
			);
			return;
		}

		this.redirects += 1;
		this.ask(next);
	}

	/** The connection failed: before a response that is connecting (or a reset), after it a reset. */
	private lost(target: URL, outgoing: http.ClientRequest, error: NodeJS.ErrnoException): void {
		// Node's own advice (`request.reusedSocket`): a keep-alive connection the server closed just
		// as we reused it fails with a reset before any reply; asking once more on another is safe
		// for a GET.
		const reset = resetCodes.has(error.code ?? '');
		if (!this.settled && !this.responded && reset && outgoing.reusedSocket && !this.retriedReusedSocket) {
			this.retriedReusedSocket = true;
			this.ask(target);
			return;
		}

		this.fail(connectionFailure(error, reset));
	}

	/** The watchdog starts once a connection is ours (waiting for one of the pool's is not a stall). */
	private arm(): void {
		if (this.watchdog) {
			this.watchdog.refresh();
			return;
		}

		const {stallTimeoutMs} = this.options;
		this.watchdog = setTimeout(() => {
			this.fail(new WebSeedError('stall', `no byte for ${stallTimeoutMs} ms`));
		}, stallTimeoutMs);
	}

	private finish(): void {
		if (this.settled) {
			return;
		}

		this.settled = true;
		clearTimeout(this.watchdog);
		// A response's end gives its socket back to the agent on the next tick; completing after
		// that lets a consumer that asks again at once (`concatMap`) reuse it rather than dial again.
		process.nextTick(() => this.subscriber.complete());
	}

	private fail(error: WebSeedError): void {
		if (this.settled) {
			return;
		}

		this.settled = true;
		clearTimeout(this.watchdog);
		this.outgoing?.destroy();
		const where = `${this.target?.href ?? this.request.url} bytes ${this.request.start}-${this.request.end}`;
		this.subscriber.error(
			new WebSeedError(error.kind, `${where}: ${error.message}`, {
				cause: error.cause,
				retryable: error.retryable,
				...(error.status === undefined ? {} : {status: error.status}),
			}),
		);
	}
}

/**
 * What a failed connection means for a retry: a refusal from our own lookup, a reset, a reply
 * node's parser rejects, or a failure to connect.
 */
function connectionFailure(error: NodeJS.ErrnoException, reset: boolean): WebSeedError {
	if (error instanceof WebSeedError) {
		return error;
	}

	if (reset) {
		return new WebSeedError('reset', `connection reset (${error.message})`, {cause: error});
	}

	if (error.code?.startsWith('HPE_')) {
		return new WebSeedError('http-status', `the reply is not HTTP/1.1 (${error.code})`, {cause: error});
	}

	if (certificateCode.test(error.code ?? '')) {
		return new WebSeedError('connect', `TLS: ${error.message}`, {cause: error, retryable: false});
	}

	return new WebSeedError('connect', error.message, {cause: error});
}
