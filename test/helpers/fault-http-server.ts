/**
 * A scriptable HTTP(S) server on 127.0.0.1 for web-seed tests (BEP 19): it serves files with
 * correct single-range support (RFC 9110 §14) and keep-alive, and misbehaves per path as a test
 * tells it to, the ways real servers do. It records every request it got (path, Range header,
 * which connection it came on, how many body bytes it sent and whether the connection closed), so
 * a test can assert how many requests were made and which connections were reused.
 */
import {createReadStream} from 'node:fs';
import {stat} from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import path from 'node:path';
import {listenOnLoopback, type Teardown} from './swarm-fixture.js';

/** What a path does wrong; every field is optional and they combine. */
export type PathFaults = {
	/** Answer this status (404, 403, 503…) with a short body instead of the file. */
	status?: number;
	/** …for the first `statusTimes` requests only, then serve the file (all of them when absent). */
	statusTimes?: number;
	/** The file's bytes `start..end` (inclusive, file offsets) are sent flipped. */
	corrupt?: {start: number; end: number};
	/** No Range support: `200` with the whole file, as a server that ignores `Range`. */
	ignoreRange?: boolean;
	/** After this many body bytes, send nothing more and hold the connection open. */
	stallAfter?: number;
	/** After this many body bytes, reset the connection (TCP RST). */
	resetAfter?: number;
	/** Redirect (302) this many times, through `/.hop/<n>/<path>`, then serve the file. */
	redirectHops?: number;
	/** Answer `302` to this Location (another server, a private address, a `ftp:` URL…). */
	redirectTo?: string;
	/** Send this Content-Range on a `206` instead of the true one; the body is still the range asked. */
	contentRange?: string;
	/** Send this many bytes fewer than the range, with a Content-Length that says so. */
	shortBy?: number;
	/** Send this many bytes (0xEE) after the range, with a Content-Length that counts them. */
	extraBytes?: number;
	/** Send the body `bytes` at a time, waiting `everyMs` before each: slow, never stalled. */
	trickle?: {bytes: number; everyMs: number};
	/** Close a request that comes on a reused connection without answering (the keep-alive race), the first this many. */
	dropReused?: number;
};

/** One request as the server saw it. */
export type ServedRequest = {
	/** The request target as sent, query included. */
	url: string;
	/** The file it was for (a redirect hop's path counts for its file). */
	path: string;
	range: string | undefined;
	/** Which connection it came on: 1 for the first the server accepted, and so on. */
	connection: number;
	/** Whether an earlier request came on the same connection. */
	reused: boolean;
	status: number;
	/** Body bytes handed to the socket. */
	bytesSent: number;
	/** Whether the whole response was sent. */
	finished: boolean;
	/** Resolves when the connection it came on has closed. */
	closed: Promise<void>;
};

export type FaultServer = {
	port: number;
	/** `http://127.0.0.1:<port>` (or https). */
	origin: string;
	/** The URL of a path (`/file.bin`) on this server. */
	url(path: string): string;
	/** Sets (replaces) the faults of a path. */
	setFaults(path: string, faults: PathFaults): void;
	requests: ServedRequest[];
	requestsFor(path: string): ServedRequest[];
	/** Connections accepted so far. */
	connections(): number;
	/** Closes the server and every connection; also run on teardown. */
	stop(): Promise<void>;
};

export type FaultServerOptions = {
	/** Serve over HTTPS with this key and certificate. */
	tls?: {key: string | Buffer; cert: string | Buffer};
};

/** Where files come from: a folder (streamed from disk, for large ones) or buffers keyed by path. */
export type FaultServerContent = {dir: string} | {files: Record<string, Buffer>};

type File = {size: number; read(start: number, end: number): AsyncIterable<Buffer>};

type ServerState = {
	content: FaultServerContent;
	faults: Map<string, PathFaults>;
	/** Status answers given so far per path, for `statusTimes`. */
	statusAnswers: Map<string, number>;
	requests: ServedRequest[];
	connectionIds: WeakMap<net.Socket, {id: number; requests: number}>;
	/** Connections that sent a request, numbered in that order (a TLS socket is not the one accepted). */
	connectionsSeen: number;
	accepted: number;
	sockets: Set<net.Socket>;
};

const chunkBytes = 64 * 1024;

/** Starts a fault server on 127.0.0.1 port 0; it is closed, with all its connections, on teardown. */
export async function faultHttpServer(
	t: Teardown,
	content: FaultServerContent,
	options: FaultServerOptions = {},
): Promise<FaultServer> {
	const state: ServerState = {
		content,
		faults: new Map(),
		statusAnswers: new Map(),
		requests: [],
		connectionIds: new WeakMap(),
		connectionsSeen: 0,
		accepted: 0,
		sockets: new Set(),
	};
	const handler = (incoming: http.IncomingMessage, outgoing: http.ServerResponse) => {
		serve(state, incoming, outgoing).catch(() => outgoing.destroy());
	};
	const server = options.tls ? https.createServer(options.tls, handler) : http.createServer(handler);
	server.on('connection', (socket: net.Socket) => {
		state.accepted += 1;
		state.sockets.add(socket);
		socket.once('close', () => state.sockets.delete(socket));
	});
	// A TLS handshake a test's client refuses (an untrusted certificate) is not a server failure.
	server.on('tlsClientError', () => undefined);
	const {port, stop} = await listenOnLoopback(t, server, 'the fault HTTP server', () => {
		for (const socket of state.sockets) {
			socket.destroy();
		}
	});
	const origin = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
	return {
		port,
		origin,
		url: (file) => `${origin}${file}`,
		setFaults: (file, faults) => state.faults.set(file, faults),
		requests: state.requests,
		requestsFor: (file) => state.requests.filter((request) => request.path === file),
		connections: () => state.accepted,
		stop,
	};
}

/** Records the request, then answers it as the path's faults say. */
async function serve(state: ServerState, incoming: http.IncomingMessage, outgoing: http.ServerResponse) {
	const record = recordRequest(state, incoming);
	const hop = /^\/\.hop\/(\d+)(\/.*)$/.exec(record.path);
	const file = hop?.[2] ?? record.path;
	record.path = file;
	const faults = state.faults.get(file) ?? {};
	outgoing.once('finish', () => {
		record.finished = true;
	});
	if (record.reused && (faults.dropReused ?? 0) > 0) {
		faults.dropReused = (faults.dropReused ?? 0) - 1;
		incoming.socket.destroy();
		return;
	}

	const redirect = redirectFor(faults, file, Number(hop?.[1] ?? 0));
	if (redirect !== undefined) {
		answer(record, outgoing, 302, {location: redirect}, 'redirected');
		return;
	}

	if (faults.status !== undefined && statusApplies(state, file, faults)) {
		answer(record, outgoing, faults.status, {}, `HTTP ${faults.status}`);
		return;
	}

	const found = await openFile(state.content, file);
	if (!found) {
		answer(record, outgoing, 404, {}, 'not found');
		return;
	}

	await sendFile(record, incoming, outgoing, found, faults);
}

function recordRequest(state: ServerState, incoming: http.IncomingMessage): ServedRequest {
	const socket = incoming.socket;
	let connection = state.connectionIds.get(socket);
	if (!connection) {
		state.connectionsSeen += 1;
		connection = {id: state.connectionsSeen, requests: 0};
		state.connectionIds.set(socket, connection);
	}

	connection.requests += 1;
	const record: ServedRequest = {
		url: incoming.url ?? '',
		path: decodeURIComponent(new URL(incoming.url ?? '/', 'http://server').pathname),
		range: incoming.headers.range,
		connection: connection.id,
		reused: connection.requests > 1,
		status: 0,
		bytesSent: 0,
		finished: false,
		closed: closeOf(socket),
	};
	state.requests.push(record);
	return record;
}

function redirectFor(faults: PathFaults, file: string, hop: number): string | undefined {
	if (faults.redirectTo !== undefined) {
		return faults.redirectTo;
	}

	const hops = faults.redirectHops ?? 0;
	return hop < hops ? `/.hop/${hop + 1}${file}` : undefined;
}

function statusApplies(state: ServerState, file: string, faults: PathFaults): boolean {
	const given = state.statusAnswers.get(file) ?? 0;
	if (faults.statusTimes !== undefined && given >= faults.statusTimes) {
		return false;
	}

	state.statusAnswers.set(file, given + 1);
	return true;
}

function answer(
	record: ServedRequest,
	outgoing: http.ServerResponse,
	status: number,
	headers: http.OutgoingHttpHeaders,
	body: string,
): void {
	record.status = status;
	outgoing.writeHead(status, {
		...headers,
		'content-type': 'text/plain',
		'content-length': Buffer.byteLength(body),
	});
	outgoing.end(body);
}

async function openFile(content: FaultServerContent, file: string): Promise<File | undefined> {
	if ('files' in content) {
		const bytes = Object.hasOwn(content.files, file) ? content.files[file] : undefined;
		return bytes && {size: bytes.length, read: (start, end) => bufferChunks(bytes, start, end)};
	}

	const full = path.join(content.dir, path.normalize(file));
	if (!full.startsWith(path.join(content.dir, path.sep))) {
		return undefined;
	}

	const stats = await stat(full).catch(() => undefined);
	return stats?.isFile()
		? {
				size: stats.size,
				read: (start, end) => createReadStream(full, {start, end, highWaterMark: chunkBytes}),
			}
		: undefined;
}

async function* bufferChunks(bytes: Buffer, start: number, end: number): AsyncIterable<Buffer> {
	for (let at = start; at <= end; at += chunkBytes) {
		yield bytes.subarray(at, Math.min(at + chunkBytes, end + 1));
	}
}

type ByteRange = {start: number; end: number};

/** RFC 9110 §14.1.2: one `bytes=first-last`, `first-` or `-suffix`; a list of several is not supported here (served whole). */
export function parseRange(
	header: string | undefined,
	size: number,
): ByteRange | 'unsatisfiable' | undefined {
	const match = /^bytes=(\d*)-(\d*)$/.exec(header?.trim() ?? '');
	if (!match || (match[1] === '' && match[2] === '')) {
		return undefined;
	}

	const [, first = '', last = ''] = match;
	if (first === '') {
		const suffix = Number(last);
		return suffix === 0 || size === 0 ? 'unsatisfiable' : {start: Math.max(size - suffix, 0), end: size - 1};
	}

	const start = Number(first);
	const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
	return start >= size || (last !== '' && Number(last) < start) ? 'unsatisfiable' : {start, end};
}

async function sendFile(
	record: ServedRequest,
	incoming: http.IncomingMessage,
	outgoing: http.ServerResponse,
	file: File,
	faults: PathFaults,
): Promise<void> {
	const range = faults.ignoreRange ? undefined : parseRange(incoming.headers.range, file.size);
	if (range === 'unsatisfiable') {
		answer(record, outgoing, 416, {'content-range': `bytes */${file.size}`}, 'range not satisfiable');
		return;
	}

	const {start, end} = range ?? {start: 0, end: file.size - 1};
	const sent = end - start + 1 - (faults.shortBy ?? 0);
	const extra = faults.extraBytes ?? 0;
	record.status = range ? 206 : 200;
	outgoing.writeHead(record.status, {
		'accept-ranges': faults.ignoreRange ? 'none' : 'bytes',
		'content-type': 'application/octet-stream',
		'content-length': Math.max(sent, 0) + extra,
		...(range ? {'content-range': faults.contentRange ?? `bytes ${start}-${end}/${file.size}`} : {}),
	});
	if (sent > 0) {
		const body = faulty(file.read(start, start + sent - 1), start, faults.corrupt);
		if (!(await writeBody(record, outgoing, body, faults))) {
			return;
		}
	}

	if (extra > 0) {
		outgoing.write(Buffer.alloc(extra, 0xee));
	}

	outgoing.end();
}

/** The file's chunks with the `corrupt` range flipped (a copy: the served bytes stay as they are). */
async function* faulty(
	chunks: AsyncIterable<Buffer>,
	start: number,
	corrupt: ByteRange | undefined,
): AsyncIterable<Buffer> {
	let at = start;
	for await (const chunk of chunks) {
		const from = corrupt ? Math.max(corrupt.start - at, 0) : 0;
		const to = corrupt ? Math.min(corrupt.end + 1 - at, chunk.length) : 0;
		if (to > from) {
			const copy = Buffer.from(chunk);
			for (let index = from; index < to; index++) {
				copy.writeUInt8((copy.readUInt8(index) ^ 0xff) & 0xff, index);
			}

			yield copy;
		} else {
			yield chunk;
		}

		at += chunk.length;
	}
}

/** Writes the body with back-pressure; false when a stall or reset fault ended it. */
async function writeBody(
	record: ServedRequest,
	outgoing: http.ServerResponse,
	body: AsyncIterable<Buffer>,
	faults: PathFaults,
): Promise<boolean> {
	const cut = Math.min(
		faults.stallAfter ?? Number.POSITIVE_INFINITY,
		faults.resetAfter ?? Number.POSITIVE_INFINITY,
	);
	for await (const chunk of trickled(body, faults.trickle)) {
		if (outgoing.destroyed) {
			return false;
		}

		const part = chunk.subarray(0, Math.max(cut - record.bytesSent, 0));
		record.bytesSent += part.length;
		const flowing = part.length === 0 || outgoing.write(part);
		if (record.bytesSent >= cut) {
			await cutShort(outgoing, faults);
			return false;
		}

		if (!flowing) {
			await drained(outgoing);
		}
	}

	return true;
}

/** Resolves when `socket` has closed (an `error` before it is not a rejection: `once` would make it one). */
function closeOf(socket: net.Socket): Promise<void> {
	return socket.closed
		? Promise.resolve()
		: new Promise((resolve) => {
				socket.once('close', () => resolve());
			});
}

/** The chunks as they come, or cut to `trickle.bytes` with a pause before each. */
async function* trickled(
	chunks: AsyncIterable<Buffer>,
	trickle: PathFaults['trickle'],
): AsyncIterable<Buffer> {
	for await (const chunk of chunks) {
		if (!trickle) {
			yield chunk;
			continue;
		}

		for (let at = 0; at < chunk.length; at += trickle.bytes) {
			await new Promise((resolve) => setTimeout(resolve, trickle.everyMs));
			yield chunk.subarray(at, at + trickle.bytes);
		}
	}
}

/** Resolves on `drain`, or on `close` when the client went away; no listener outlives it. */
function drained(outgoing: http.ServerResponse): Promise<void> {
	return new Promise((resolve) => {
		const done = () => {
			outgoing.off('drain', done);
			outgoing.off('close', done);
			resolve();
		};
		outgoing.on('drain', done);
		outgoing.on('close', done);
	});
}

/** The stall (hold the connection open, send nothing) or the reset a fault asked for. */
async function cutShort(outgoing: http.ServerResponse, faults: PathFaults): Promise<void> {
	const socket = outgoing.socket;
	if (
		faults.resetAfter !== undefined &&
		(faults.stallAfter === undefined || faults.resetAfter <= faults.stallAfter)
	) {
		// Let what was written reach the client first, as a server that dies mid-body does.
		await new Promise((resolve) => setTimeout(resolve, 20));
		// A TLS socket has no RST of its own: reset the TCP connection under it.
		const tcp = (socket as {_parent?: net.Socket} | null)?._parent ?? socket;
		(tcp as net.Socket | null)?.resetAndDestroy();
		socket?.destroy();
		return;
	}

	if (socket) {
		await closeOf(socket);
	}
}
