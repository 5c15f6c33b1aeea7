import {once} from 'node:events';
import net from 'node:net';
import type {ExecutionContext} from 'ava';
import test from 'ava';
import {firstValueFrom, NEVER, type Observable, ReplaySubject, type Subscription} from 'rxjs';
import {PeerProtocolError} from '../../source/errors.js';
import {type IncomingPeer, listenForPeers, type PeerListener} from '../../source/peer/listener.js';
import {connectTcp} from '../../source/peer/socket.js';
import type {PeerWire} from '../../source/peer/transport.js';
import {pseudoRandomBytes} from '../helpers/swarm-fixture.js';

const host = '127.0.0.1';

/** Subscribes `observable$` until the test ends; its values replayed for `firstValueFrom`. */
function hold<T>(t: ExecutionContext, observable$: Observable<T>) {
	const values$ = new ReplaySubject<T>();
	const subscription = observable$.subscribe(values$);
	t.teardown(() => subscription.unsubscribe());
	return {values$, subscription};
}

/** Listens on 127.0.0.1 (port 0 unless told) until the test ends, taking every connection. */
async function listen(t: ExecutionContext, port = 0) {
	const {values$, subscription} = hold(t, listenForPeers({port, host}));
	const listener: PeerListener = await firstValueFrom(values$);
	const connections = hold(t, listener.connections$);
	return {listener, subscription, connections$: connections.values$};
}

/** A TCP client of the test, destroyed when the test ends; it collects what it receives. */
async function dial(t: ExecutionContext, port: number) {
	const client = net.connect({host, port});
	t.teardown(() => client.destroy());
	const errors: Error[] = [];
	client.on('error', (error) => errors.push(error));
	let received = Buffer.alloc(0);
	client.on('data', (chunk: Buffer) => {
		received = Buffer.concat([received, chunk]);
	});
	await once(client, 'connect');
	return {client, errors, received: () => received.toString()};
}

/** Resolves once `check` holds, polling; a test's own timeout bounds it. */
async function until(check: () => boolean): Promise<void> {
	while (!check()) {
		await new Promise((resolve) => setTimeout(resolve, 5));
	}
}

/** 'closed' when the socket closes within `ms`, else 'open'. */
async function closesWithin(socket: net.Socket, ms: number): Promise<'closed' | 'open'> {
	if (socket.destroyed && socket.closed) {
		return 'closed';
	}

	let timer: NodeJS.Timeout | undefined;
	const result = await Promise.race([
		once(socket, 'close').then(() => 'closed' as const),
		new Promise<'open'>((resolve) => {
			timer = setTimeout(() => resolve('open'), ms);
		}),
	]);
	clearTimeout(timer);
	return result;
}

/** Collects a wire's incoming bytes as text and how it ended, until the test ends. */
function collect(t: ExecutionContext, wire: PeerWire) {
	let text = '';
	let ended: string | undefined;
	const subscription = wire.incoming$.subscribe({
		next(chunk) {
			text += chunk.toString();
		},
		error(error: unknown) {
			ended = error instanceof PeerProtocolError ? `PeerProtocolError ${error.message}` : String(error);
		},
		complete() {
			ended = 'complete';
		},
	});
	t.teardown(() => subscription.unsubscribe());
	return {text: () => text, ended: () => ended};
}

test('on port 0 it listens on a real port', async (t) => {
	t.timeout(5000);
	const {listener, connections$} = await listen(t);
	t.true(Number.isInteger(listener.port) && listener.port > 0, `port ${listener.port}`);
	const {client} = await dial(t, listener.port);
	const incoming: IncomingPeer = await firstValueFrom(connections$);
	t.deepEqual(incoming.address, {host, port: client.localPort});
});

test('when its port is taken it listens on another free port', async (t) => {
	t.timeout(5000);
	const first = await listen(t);
	const second = await listen(t, first.listener.port);
	t.not(second.listener.port, first.listener.port);
	t.true(second.listener.port > 0);
	const {client} = await dial(t, second.listener.port);
	const incoming: IncomingPeer = await firstValueFrom(second.connections$);
	t.deepEqual(incoming.address, {host, port: client.localPort});
});

test('an incoming connection delivers the bytes sent before and after the subscription, and send reaches the peer', async (t) => {
	t.timeout(5000);
	const {listener, connections$} = await listen(t);
	const {client, received} = await dial(t, listener.port);
	// Written, and flushed to the kernel, before anyone on our side reads.
	await new Promise<void>((resolve) => client.write('hello ', () => resolve()));
	const incoming: IncomingPeer = await firstValueFrom(connections$);
	t.deepEqual(incoming.address, {host, port: client.localPort});
	const wire = hold(t, incoming.wire$);
	const peerWire: PeerWire = await firstValueFrom(wire.values$);
	await new Promise((resolve) => setTimeout(resolve, 30));
	const incomingBytes = collect(t, peerWire);
	client.write('world');
	await until(() => incomingBytes.text() === 'hello world');
	t.is(incomingBytes.text(), 'hello world');
	t.true(peerWire.send(Buffer.from('from us')));
	await until(() => received() === 'from us');
	t.is(received(), 'from us');

	// The wire is a resource: its teardown closes the connection.
	wire.subscription.unsubscribe();
	t.is(await closesWithin(client, 2000), 'closed');
	await until(() => incomingBytes.ended() !== undefined);
	t.is(incomingBytes.ended(), 'complete');
});

test('incoming$ completes when the peer ends the connection', async (t) => {
	t.timeout(5000);
	const {listener, connections$} = await listen(t);
	const {client} = await dial(t, listener.port);
	const incoming: IncomingPeer = await firstValueFrom(connections$);
	const peerWire: PeerWire = await firstValueFrom(hold(t, incoming.wire$).values$);
	const incomingBytes = collect(t, peerWire);
	client.end('bye');
	await until(() => incomingBytes.ended() !== undefined);
	t.is(incomingBytes.text(), 'bye');
	t.is(incomingBytes.ended(), 'complete');
});

test('refuse() closes the connection and sends nothing', async (t) => {
	t.timeout(5000);
	const {listener, connections$} = await listen(t);
	const {client, received} = await dial(t, listener.port);
	const incoming: IncomingPeer = await firstValueFrom(connections$);
	incoming.refuse();
	t.is(await closesWithin(client, 2000), 'closed');
	t.is(received(), '');
});

test('unsubscribing the listener closes the server and completes connections$', async (t) => {
	t.timeout(5000);
	const {listener, subscription} = await listen(t);
	let completed = false;
	listener.connections$.subscribe({complete: () => (completed = true)});
	subscription.unsubscribe();
	t.true(completed);
	const client = net.connect({host, port: listener.port});
	t.teardown(() => client.destroy());
	const [error] = (await once(client, 'error').catch((error: unknown) => [error])) as [NodeJS.ErrnoException];
	t.is(error.code, 'ECONNREFUSED');
});

test('unsubscribing the listener closes connections not yet handed over', async (t) => {
	t.timeout(5000);
	const {listener, subscription, connections$} = await listen(t);
	const {client} = await dial(t, listener.port);
	await firstValueFrom(connections$);
	subscription.unsubscribe();
	t.is(await closesWithin(client, 500), 'closed');
});

/** A plain TCP server on 127.0.0.1 port 0 for connectTcp, closed with its sockets at the end. */
async function plainServer(t: ExecutionContext) {
	const sockets: net.Socket[] = [];
	const server = net.createServer((socket) => {
		socket.on('error', () => undefined);
		sockets.push(socket);
	});
	server.listen(0, host);
	await once(server, 'listening');
	t.teardown(() => {
		for (const socket of sockets) {
			socket.destroy();
		}

		server.close();
	});
	const address = server.address();
	const port = typeof address === 'object' && address ? address.port : 0;
	return {server, sockets, port};
}

test('connectTcp connects and emits a wire that sends and receives', async (t) => {
	t.timeout(5000);
	const {sockets, port} = await plainServer(t);
	const connection = hold(t, connectTcp({connectTimeoutMs: 2000})({host, port}));
	const wire: PeerWire = await firstValueFrom(connection.values$);
	await until(() => sockets.length === 1);
	const [remote] = sockets;
	if (!remote) {
		throw new Error('no connection reached the server');
	}

	let atServer = '';
	remote.on('data', (chunk: Buffer) => {
		atServer += chunk.toString();
	});
	t.true(wire.send(Buffer.from('ping')));
	await until(() => atServer === 'ping');
	t.is(atServer, 'ping');
	const incomingBytes = collect(t, wire);
	remote.write('pong');
	await until(() => incomingBytes.text() === 'pong');
	t.is(incomingBytes.text(), 'pong');

	// Teardown destroys the socket: the server side sees it close.
	connection.subscription.unsubscribe();
	t.is(await closesWithin(remote, 2000), 'closed');
});

test('connectTcp: bytes sent before the subscription wait for it; two wires reading at once share a buffer without mixing', async (t) => {
	t.timeout(10_000);
	const {sockets, port} = await plainServer(t);
	const dial = () => hold(t, connectTcp({connectTimeoutMs: 2000})({host, port}));
	const wires = [await firstValueFrom(dial().values$), await firstValueFrom(dial().values$)];
	await until(() => sockets.length === 2);
	// Different bytes on each connection, sent at once and before anyone listens.
	const payloads = sockets.map((_, index) => pseudoRandomBytes(3 * 1024 * 1024, `wire ${index}`));
	for (const [index, socket] of sockets.entries()) {
		socket.write(payloads[index] ?? '');
	}

	await new Promise((resolve) => setTimeout(resolve, 100));
	// Copies, as the framer makes: a chunk is valid only while it is emitted.
	const received = wires.map(() => [] as Buffer[]);
	for (const [index, wire] of wires.entries()) {
		const subscription = wire.incoming$.subscribe((chunk) => received[index]?.push(Buffer.from(chunk)));
		t.teardown(() => subscription.unsubscribe());
	}

	const total = (index: number) => received[index]?.reduce((sum, chunk) => sum + chunk.length, 0) ?? 0;
	await until(() => total(0) === payloads[0]?.length && total(1) === payloads[1]?.length);
	for (const [index, payload] of payloads.entries()) {
		t.true(Buffer.concat(received[index] ?? []).equals(payload ?? Buffer.alloc(0)), `wire ${index}`);
	}
});

test('connectTcp errors with PeerProtocolError when the connection is refused', async (t) => {
	t.timeout(5000);
	// A port that was free a moment ago and is closed now.
	const probe = net.createServer();
	probe.listen(0, host);
	await once(probe, 'listening');
	const {port} = probe.address() as net.AddressInfo;
	await new Promise((resolve) => probe.close(resolve));

	let subscription: Subscription | undefined;
	const error = await t.throwsAsync(
		new Promise<PeerWire>((resolve, reject) => {
			subscription = connectTcp({connectTimeoutMs: 2000})({host, port}).subscribe({
				next: resolve,
				error: reject,
			});
		}),
		{instanceOf: PeerProtocolError},
	);
	t.teardown(() => subscription?.unsubscribe());
	t.is(error?.name, 'PeerProtocolError');
	t.is((error?.cause as NodeJS.ErrnoException | undefined)?.code, 'ECONNREFUSED');
	t.regex(error?.message ?? '', /ECONNREFUSED/);
});

/** Listens with `options` until the test ends; `take` says whether connections$ is subscribed. */
async function listenWith(
	t: ExecutionContext,
	options: Partial<Parameters<typeof listenForPeers>[0]>,
	take = true,
) {
	const {values$} = hold(t, listenForPeers({port: 0, host, ...options}));
	const listener: PeerListener = await firstValueFrom(values$);
	const incoming: IncomingPeer[] = [];
	if (take) {
		const subscription = listener.connections$.subscribe((peer) => incoming.push(peer));
		t.teardown(() => subscription.unsubscribe());
	}

	return {listener, incoming};
}

test('a connection accepted while nobody takes connections (the files are being checked) is closed at once', async (t) => {
	t.timeout(5000);
	const {listener} = await listenWith(t, {}, false);
	const clients = await Promise.all(
		Array.from({length: 20}, async () => (await dial(t, listener.port)).client),
	);
	const closed = await Promise.all(clients.map((client) => closesWithin(client, 2000)));
	t.deepEqual(
		closed,
		Array.from({length: 20}, () => 'closed'),
	);
});

test('a connection no session takes is closed when the handshake timeout, counted from the accept, runs out', async (t) => {
	t.timeout(5000);
	const {listener, incoming} = await listenWith(t, {handshakeTimeoutMs: 300});
	const {client} = await dial(t, listener.port);
	const dialled = Date.now();
	await until(() => incoming.length === 1);
	t.is(await closesWithin(client, 2000), 'closed');
	t.true(Date.now() - dialled >= 250, `closed after ${Date.now() - dialled} ms`);
});

test('a connection taken in time is not closed by the listener’s timeout', async (t) => {
	t.timeout(5000);
	const {listener, incoming} = await listenWith(t, {handshakeTimeoutMs: 200});
	const {client} = await dial(t, listener.port);
	await until(() => incoming.length === 1);
	hold(t, incoming[0]?.wire$ ?? NEVER);
	t.is(await closesWithin(client, 600), 'open');
});

test('a connection taken after its timeout ran out errors: there is nothing left to take', async (t) => {
	t.timeout(5000);
	const {listener, incoming} = await listenWith(t, {handshakeTimeoutMs: 100});
	const {client} = await dial(t, listener.port);
	await until(() => incoming.length === 1);
	t.is(await closesWithin(client, 2000), 'closed');
	await t.throwsAsync(firstValueFrom(incoming[0]?.wire$ ?? NEVER), {instanceOf: PeerProtocolError});
});

test('past the cap on connections waiting for a session, a new one is closed at once', async (t) => {
	t.timeout(5000);
	const {listener, incoming} = await listenWith(t, {maxUnclaimed: 3, handshakeTimeoutMs: 10_000});
	const clients: net.Socket[] = [];
	for (let index = 0; index < 5; index++) {
		clients.push((await dial(t, listener.port)).client);
	}

	const late = clients.slice(3);
	t.deepEqual(await Promise.all(late.map((client) => closesWithin(client, 2000))), ['closed', 'closed']);
	t.is(incoming.length, 3);
	t.deepEqual(await Promise.all(clients.slice(0, 3).map((client) => closesWithin(client, 100))), [
		'open',
		'open',
		'open',
	]);
});

test('one address holds only a few incoming connections, taken or not; a closed one frees its place', async (t) => {
	t.timeout(5000);
	const {listener, incoming} = await listenWith(t, {maxPerAddress: 2, capLoopback: true});
	const first = await dial(t, listener.port);
	const second = await dial(t, listener.port);
	await until(() => incoming.length === 2);
	const taken = hold(t, incoming[0]?.wire$ ?? NEVER);
	const third = await dial(t, listener.port);
	t.is(await closesWithin(third.client, 2000), 'closed');
	t.is(incoming.length, 2);
	taken.subscription.unsubscribe();
	t.is(await closesWithin(first.client, 2000), 'closed');
	const fourth = await dial(t, listener.port);
	await until(() => incoming.length === 3);
	t.deepEqual(incoming[2]?.address, {host, port: fourth.client.localPort});
	t.is(await closesWithin(second.client, 100), 'open');
});

test('by default loopback callers, who share 127.0.0.1 in every local swarm, are not held to the per-address cap', async (t) => {
	t.timeout(5000);
	const {listener, incoming} = await listenWith(t, {});
	for (let index = 0; index < 10; index++) {
		await dial(t, listener.port);
	}

	await until(() => incoming.length === 10);
	t.is(incoming.length, 10);
});
