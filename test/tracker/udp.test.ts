/**
 * The BEP 15 client against a fake UDP tracker: a real dgram socket on 127.0.0.1 (or ::1) that
 * records every datagram it receives and answers as each test tells it to.
 */
import dgram from 'node:dgram';
import test, {type ExecutionContext} from 'ava';
import {firstValueFrom, lastValueFrom, NEVER, type Observable, of} from 'rxjs';
import {udpActions} from '../../source/codec/udp-tracker.js';
import {TrackerError} from '../../source/errors.js';
import {announceByScheme} from '../../source/tracker/announce-port.js';
import type {AnnounceRequest} from '../../source/tracker/announce-request.js';
import {announcer} from '../../source/tracker/announcer.js';
import {createUdpTrackerClient, type UdpTrackerOptions} from '../../source/tracker/udp.js';

const protocolId = 0x417_2710_1980n;

const infoHash = Buffer.from('0123456789abcdef0123456789abcdef01234567', 'hex');
const peerId = Buffer.from('-RX0001-\u00ff\u0000xyzw123456', 'latin1');
if (peerId.length !== 20) {
	throw new Error('the peer id must be 20 bytes');
}

const request: AnnounceRequest = {
	infoHash,
	peerId,
	port: 51_413,
	uploaded: 2 ** 33 + 7,
	downloaded: 1024,
	left: 2 ** 32 + 1,
	event: 'started',
	numwant: 80,
};

/** What the fake tracker made of one datagram. */
type Received = {
	packet: Buffer;
	from: dgram.RemoteInfo;
	kind: 'connect' | 'announce' | 'other';
	transactionId: number;
	/** The connection id an announce carried. */
	connectionId?: bigint;
};

type Responder = (received: Received, tracker: FakeTracker) => void;

type FakeTracker = {
	host: string;
	port: number;
	url: string;
	received: Received[];
	/** The connection ids it handed out, in order. */
	issued: bigint[];
	send(packet: Buffer, to: dgram.RemoteInfo): void;
	/** Answers a connect with a fresh connection id. */
	acceptConnect(received: Received): void;
	/** A socket on another port of the same host, for forged replies. */
	impostor(): Promise<dgram.Socket>;
	/** How many datagrams of `kind` have arrived so far. */
	count(kind: Received['kind']): number;
	/** Resolves once `count` datagrams of `kind` have arrived. */
	waitFor(kind: Received['kind'], count: number, timeoutMs?: number): Promise<void>;
};

function parseRequest(packet: Buffer, from: dgram.RemoteInfo): Received {
	const transactionId = packet.length >= 16 ? packet.readUInt32BE(12) : -1;
	if (packet.length === 16 && packet.readBigUInt64BE(0) === protocolId && packet.readUInt32BE(8) === 0) {
		return {packet, from, kind: 'connect', transactionId};
	}

	if (packet.length === 98 && packet.readUInt32BE(8) === udpActions.announce) {
		return {packet, from, kind: 'announce', transactionId, connectionId: packet.readBigUInt64BE(0)};
	}

	return {packet, from, kind: 'other', transactionId};
}

function connectReply(transactionId: number, connectionId: bigint): Buffer {
	const packet = Buffer.alloc(16);
	packet.writeUInt32BE(udpActions.connect, 0);
	packet.writeUInt32BE(transactionId, 4);
	packet.writeBigUInt64BE(connectionId, 8);
	return packet;
}

function announceReply(
	transactionId: number,
	{interval, leechers, seeders, peers}: {interval: number; leechers: number; seeders: number; peers: Buffer},
): Buffer {
	const header = Buffer.alloc(20);
	header.writeUInt32BE(udpActions.announce, 0);
	header.writeUInt32BE(transactionId, 4);
	header.writeUInt32BE(interval, 8);
	header.writeUInt32BE(leechers, 12);
	header.writeUInt32BE(seeders, 16);
	return Buffer.concat([header, peers]);
}

function errorReply(transactionId: number, message: string): Buffer {
	const header = Buffer.alloc(8);
	header.writeUInt32BE(udpActions.error, 0);
	header.writeUInt32BE(transactionId, 4);
	return Buffer.concat([header, Buffer.from(message)]);
}

const genuine = {
	interval: 1800,
	leechers: 3,
	seeders: 7,
	peers: Buffer.from('0a000001 1ae1 c0a80002 c8d5'.replaceAll(' ', ''), 'hex'),
};
const genuinePeers = [
	{host: '10.0.0.1', port: 6881},
	{host: '192.168.0.2', port: 51_413},
];
const genuineResponse = {interval: 1800, seeders: 7, leechers: 3, peers: genuinePeers};

/** Answers connects and announces at once, with `genuine`. */
const answerEverything: Responder = (received, tracker) => {
	if (received.kind === 'connect') {
		tracker.acceptConnect(received);
	} else if (received.kind === 'announce') {
		tracker.send(announceReply(received.transactionId, genuine), received.from);
	}
};

async function bindSocket(t: ExecutionContext, type: 'udp4' | 'udp6', host: string): Promise<dgram.Socket> {
	const socket = dgram.createSocket(type);
	await new Promise<void>((resolve, reject) => {
		socket.once('error', reject);
		socket.bind(0, host, () => {
			socket.off('error', reject);
			resolve();
		});
	});
	t.teardown(
		() =>
			new Promise<void>((resolve) => {
				socket.close(() => resolve());
			}),
	);
	return socket;
}

async function startFakeTracker(
	t: ExecutionContext,
	respond: Responder = answerEverything,
	{host = '127.0.0.1'}: {host?: string} = {},
): Promise<FakeTracker> {
	const type = host.includes(':') ? 'udp6' : 'udp4';
	const socket = await bindSocket(t, type, host);
	const {port} = socket.address();
	const received: Received[] = [];
	const issued: bigint[] = [];
	const waiters = new Set<() => void>();
	let nextConnectionId = 0x1000_0000_0000_0001n;
	const tracker: FakeTracker = {
		host,
		port,
		url: `udp://${type === 'udp6' ? `[${host}]` : host}:${port}/announce`,
		received,
		issued,
		send(packet, to) {
			socket.send(packet, to.port, to.address);
		},
		acceptConnect(connect) {
			const id = nextConnectionId;
			nextConnectionId += 0x1_0000_0001n;
			issued.push(id);
			tracker.send(connectReply(connect.transactionId, id), connect.from);
		},
		impostor: () => bindSocket(t, type, host),
		count: (kind) => received.filter((other) => other.kind === kind).length,
		waitFor(kind, count, timeoutMs = 5000) {
			return new Promise<void>((resolve, reject) => {
				const timer = setTimeout(() => {
					waiters.delete(check);
					reject(new Error(`the tracker got ${tracker.count(kind)} ${kind} datagrams, not ${count}`));
				}, timeoutMs);
				const check = () => {
					if (tracker.count(kind) >= count) {
						clearTimeout(timer);
						waiters.delete(check);
						resolve();
					}
				};

				waiters.add(check);
				check();
			});
		},
	};
	socket.on('message', (packet, from) => {
		const parsed = parseRequest(packet, from);
		received.push(parsed);
		respond(parsed, tracker);
		for (const waiter of [...waiters]) {
			waiter();
		}
	});
	return tracker;
}

const delay = (ms: number) =>
	new Promise<void>((resolve) => {
		setTimeout(resolve, ms);
	});

/**
 * A client with small timings. The client has no `close()`: its socket is unref'd and closes
 * itself after `idleMs` without a request, so the test waits that long before it ends.
 */
function udpClient(t: ExecutionContext, options: Partial<UdpTrackerOptions> = {}) {
	const full: UdpTrackerOptions = {
		baseMs: 2000,
		maxRetransmits: 2,
		connectionIdTtlMs: 60_000,
		idleMs: 300,
		...options,
	};
	t.teardown(() => delay(full.idleMs + 50));
	return createUdpTrackerClient(full);
}

/** Every datagram the tracker got, retransmissions included. */
const kinds = (tracker: FakeTracker) => tracker.received.map((received) => received.kind);

/**
 * The distinct requests the tracker got, in order: a retransmission (same kind, same transaction
 * id) is not a new request. Tests about which requests are made use these, so that a busy machine
 * that is slow to answer, and makes the client retransmit, does not fail them.
 */
function requests(tracker: FakeTracker): Received[] {
	const seen = new Set<string>();
	return tracker.received.filter((received) => {
		const key = `${received.kind} ${received.transactionId}`;
		const fresh = !seen.has(key);
		seen.add(key);
		return fresh;
	});
}

const requestKinds = (tracker: FakeTracker) => requests(tracker).map((received) => received.kind);

async function trackerError(t: ExecutionContext, announce$: Observable<unknown>): Promise<TrackerError> {
	const error = await t.throwsAsync(firstValueFrom(announce$), {instanceOf: TrackerError});
	if (!error) {
		throw new Error('no TrackerError');
	}

	return error;
}

test('an announce returns the interval, seeders, leechers and peers the tracker sent', async (t) => {
	t.timeout(10_000);
	const tracker = await startFakeTracker(t);
	const client = udpClient(t);
	t.deepEqual(await firstValueFrom(client.announce(tracker.url, request)), genuineResponse);
	t.deepEqual(requestKinds(tracker), ['connect', 'announce']);
	t.is(requests(tracker)[1]?.connectionId, tracker.issued[0], 'the announce carries the connection id');
});

test('the announce completes after its one answer', async (t) => {
	t.timeout(10_000);
	const tracker = await startFakeTracker(t);
	const client = udpClient(t);
	// lastValueFrom would hang (and time out) if the observable never completed.
	t.deepEqual(await lastValueFrom(client.announce(tracker.url, request)), genuineResponse);
});

test('the announce packet carries the info hash, peer id, counters, event, numwant, port and one key', async (t) => {
	t.timeout(10_000);
	const tracker = await startFakeTracker(t);
	const client = udpClient(t);
	await firstValueFrom(client.announce(tracker.url, request));
	const {event: _, ...regular} = request;
	await firstValueFrom(client.announce(tracker.url, {...regular, numwant: -1, port: 6881}));
	await firstValueFrom(client.announce(tracker.url, {...request, event: 'stopped', left: 0}));
	const announces = requests(tracker).filter((received) => received.kind === 'announce');
	t.is(announces.length, 3);
	const [first, second, third] = announces.map((received) => received.packet);
	if (!first || !second || !third) {
		return;
	}

	t.is<bigint | undefined, bigint | undefined>(
		first.readBigUInt64BE(0),
		tracker.issued[0],
		'the connection id the tracker issued',
	);
	t.is(first.readUInt32BE(8), 1, 'action announce');
	t.deepEqual(first.subarray(16, 36), infoHash);
	t.deepEqual(first.subarray(36, 56), peerId);
	t.is(first.readBigUInt64BE(56), 1024n, 'downloaded');
	t.is(first.readBigUInt64BE(64), 2n ** 32n + 1n, 'left');
	t.is(first.readBigUInt64BE(72), 2n ** 33n + 7n, 'uploaded');
	t.is(first.readUInt32BE(80), 2, 'event started');
	t.is(first.readUInt32BE(84), 0, 'ip: the sender address');
	t.is(first.readInt32BE(92), 80, 'numwant');
	t.is(first.readUInt16BE(96), 51_413, 'port');

	t.is(second.readUInt32BE(80), 0, 'a regular announce has event none');
	t.is(second.readInt32BE(92), -1);
	t.is(second.readUInt16BE(96), 6881);
	t.is(third.readUInt32BE(80), 3, 'event stopped');
	t.is(third.readBigUInt64BE(64), 0n);

	const keys = announces.map((received) => received.packet.readUInt32BE(88));
	t.deepEqual(new Set(keys).size, 1, `the same key in every announce: ${keys.join(', ')}`);
	t.not(
		new Set(announces.map((received) => received.transactionId)).size,
		1,
		'each request has its own transaction id',
	);
});

test('two announces within the TTL share one connect', async (t) => {
	t.timeout(10_000);
	const tracker = await startFakeTracker(t);
	const client = udpClient(t, {connectionIdTtlMs: 60_000});
	await firstValueFrom(client.announce(tracker.url, request));
	await firstValueFrom(client.announce(tracker.url, request));
	t.deepEqual(requestKinds(tracker), ['connect', 'announce', 'announce']);
	t.is(requests(tracker)[2]?.connectionId, tracker.issued[0], 'the second announce reuses the connection id');
});

test('after the TTL the next announce connects again, on the same socket', async (t) => {
	t.timeout(10_000);
	const tracker = await startFakeTracker(t);
	const client = udpClient(t, {connectionIdTtlMs: 40, idleMs: 2000});
	await firstValueFrom(client.announce(tracker.url, request));
	await delay(150);
	const before = tracker.issued.length;
	await firstValueFrom(client.announce(tracker.url, request));
	const sent = requests(tracker);
	t.deepEqual(
		sent.map((received) => received.kind),
		['connect', 'announce', 'connect', 'announce'],
	);
	t.is(sent[3]?.connectionId, tracker.issued[before], 'the second announce uses the new id');
	t.not(sent[3]?.connectionId, sent[1]?.connectionId);
	// The same source port: the id expired, the socket did not close (that would be a new connect anyway).
	t.is(sent[2]?.from.port, sent[0]?.from.port);
});

test('connection ids are kept per tracker: each tracker gets its own connect and its own id', async (t) => {
	t.timeout(10_000);
	const first = await startFakeTracker(t);
	const second = await startFakeTracker(t);
	const client = udpClient(t);
	for (const tracker of [first, second, first, second]) {
		await firstValueFrom(client.announce(tracker.url, request));
	}

	for (const tracker of [first, second]) {
		const sent = requests(tracker);
		t.deepEqual(
			sent.map((received) => received.kind),
			['connect', 'announce', 'announce'],
		);
		t.is(sent[1]?.connectionId, tracker.issued[0]);
		t.is(sent[2]?.connectionId, tracker.issued[0]);
	}
});

test('a socket idle for idleMs closes, and its connection ids with it', async (t) => {
	t.timeout(10_000);
	const tracker = await startFakeTracker(t);
	const client = udpClient(t, {connectionIdTtlMs: 60_000, idleMs: 50});
	await firstValueFrom(client.announce(tracker.url, request));
	await delay(300);
	await firstValueFrom(client.announce(tracker.url, request));
	const sent = requests(tracker);
	t.deepEqual(
		sent.map((received) => received.kind),
		['connect', 'announce', 'connect', 'announce'],
	);
	t.log('source ports', sent[0]?.from.port, sent[2]?.from.port);
});

test('a reply with the wrong transaction id is ignored; the retransmission gets the genuine one', async (t) => {
	t.timeout(10_000);
	const tracker = await startFakeTracker(t, (received, fake) => {
		if (received.kind === 'connect') {
			fake.acceptConnect(received);
			return;
		}

		if (fake.count('announce') === 1) {
			// Every other field right: only the transaction id gives it away.
			const bogus = {interval: 1, leechers: 0, seeders: 0, peers: Buffer.from('7f0000010001', 'hex')};
			fake.send(announceReply((received.transactionId ^ 1) >>> 0, bogus), received.from);
			fake.send(announceReply((received.transactionId + 0x100) >>> 0, bogus), received.from);
		} else {
			fake.send(announceReply(received.transactionId, genuine), received.from);
		}
	});
	const client = udpClient(t, {baseMs: 100, maxRetransmits: 3});
	t.deepEqual(await firstValueFrom(client.announce(tracker.url, request)), genuineResponse);
	const announces = tracker.received.filter((received) => received.kind === 'announce');
	t.true(announces.length >= 2, 'the announce went out again');
	t.is(announces[1]?.transactionId, announces[0]?.transactionId);
});

test('a reply from another port with the right transaction id is ignored', async (t) => {
	t.timeout(10_000);
	let impostor: dgram.Socket | undefined;
	const tracker = await startFakeTracker(t, (received, fake) => {
		if (received.kind === 'connect') {
			fake.acceptConnect(received);
			return;
		}

		if (fake.count('announce') === 1) {
			const bogus = {interval: 1, leechers: 0, seeders: 0, peers: Buffer.from('7f0000010001', 'hex')};
			impostor?.send(announceReply(received.transactionId, bogus), received.from.port, received.from.address);
		} else {
			fake.send(announceReply(received.transactionId, genuine), received.from);
		}
	});
	impostor = await tracker.impostor();
	// The forged reply comes from the same host, another port: the test relies on it.
	t.not(impostor.address().port, tracker.port);
	t.is(impostor.address().address, tracker.host);
	const client = udpClient(t, {baseMs: 100, maxRetransmits: 3});
	t.deepEqual(await firstValueFrom(client.announce(tracker.url, request)), genuineResponse);
	const announces = tracker.received.filter((received) => received.kind === 'announce').length;
	t.true(announces >= 2, 'the client went on retransmitting after the forged reply');
});

test('a reply to the connect from another port is ignored too', async (t) => {
	t.timeout(10_000);
	let impostor: dgram.Socket | undefined;
	const tracker = await startFakeTracker(t, (received, fake) => {
		if (received.kind === 'connect') {
			if (fake.count('connect') === 1) {
				impostor?.send(
					connectReply(received.transactionId, 0xbad_bad_bad_badn),
					received.from.port,
					received.from.address,
				);
			} else {
				fake.acceptConnect(received);
			}
		} else if (received.kind === 'announce') {
			fake.send(announceReply(received.transactionId, genuine), received.from);
		}
	});
	impostor = await tracker.impostor();
	const client = udpClient(t, {baseMs: 100, maxRetransmits: 3});
	t.deepEqual(await firstValueFrom(client.announce(tracker.url, request)), genuineResponse);
	const announce = tracker.received.find((received) => received.kind === 'announce');
	t.is(announce?.connectionId, tracker.issued[0], 'the announce uses the genuine connection id');
});

test('the tracker drops the first datagrams: the client retransmits and succeeds', async (t) => {
	t.timeout(10_000);
	// Drops the first two connects and the first announce.
	const tracker = await startFakeTracker(t, (received, fake) => {
		const dropped = received.kind === 'connect' ? fake.count('connect') <= 2 : fake.count('announce') === 1;
		if (!dropped) {
			answerEverything(received, fake);
		}
	});
	const client = udpClient(t, {baseMs: 100, maxRetransmits: 3});
	t.deepEqual(await firstValueFrom(client.announce(tracker.url, request)), genuineResponse);
	t.deepEqual(kinds(tracker).slice(0, 3), ['connect', 'connect', 'connect']);
	t.true(tracker.count('announce') >= 2, 'the dropped announce went out again');
	const announces = tracker.received.filter((received) => received.kind === 'announce');
	t.true(announces.every((announce) => announce.connectionId === tracker.issued[0]));
});

test('a tracker that never answers: a TrackerError after 1 + maxRetransmits transmissions', async (t) => {
	t.timeout(10_000);
	const tracker = await startFakeTracker(t, () => undefined);
	const client = udpClient(t, {baseMs: 50, maxRetransmits: 2});
	const error = await trackerError(t, client.announce(tracker.url, request));
	t.regex(error.message, /no reply to 3 transmissions over 0\.35 s/);
	t.is(tracker.received.length, 3);
	// Nothing more after giving up.
	await delay(400);
	t.deepEqual(kinds(tracker), ['connect', 'connect', 'connect']);
	t.is(new Set(tracker.received.map((received) => received.transactionId)).size, 1);
});

test('a tracker that answers the connect but never the announce: the announce is sent 1 + maxRetransmits times', async (t) => {
	t.timeout(10_000);
	const tracker = await startFakeTracker(t, (received, fake) => {
		if (received.kind === 'connect') {
			fake.acceptConnect(received);
		}
	});
	const client = udpClient(t, {baseMs: 60, maxRetransmits: 3});
	const error = await trackerError(t, client.announce(tracker.url, request));
	t.regex(error.message, /no reply to 4 transmissions over 0\.9 s/);
	await delay(300);
	t.is(tracker.count('announce'), 4);
	// (The connect may have gone out twice on a slow machine; the announces all come after it.)
	t.deepEqual(kinds(tracker).slice(-4), ['announce', 'announce', 'announce', 'announce']);
});

test("an error reply is a TrackerError with the tracker's message; the next announce connects again", async (t) => {
	t.timeout(10_000);
	let refuse = true;
	const tracker = await startFakeTracker(t, (received, fake) => {
		if (received.kind === 'announce' && refuse) {
			refuse = false;
			fake.send(errorReply(received.transactionId, 'Connection ID missmatch.\u001b[2J\r\n'), received.from);
		} else {
			answerEverything(received, fake);
		}
	});
	const client = udpClient(t, {connectionIdTtlMs: 60_000});
	const error = await trackerError(t, client.announce(tracker.url, request));
	t.is(error.message, `${tracker.url}: Connection ID missmatch. [2J`);
	t.deepEqual(await firstValueFrom(client.announce(tracker.url, request)), genuineResponse);
	const sent = requests(tracker);
	t.deepEqual(
		sent.map((received) => received.kind),
		['connect', 'announce', 'connect', 'announce'],
	);
	t.is(sent[3]?.connectionId, tracker.issued.at(-1));
});

test('an error reply to the connect is a TrackerError too', async (t) => {
	t.timeout(10_000);
	const tracker = await startFakeTracker(t, (received, fake) => {
		fake.send(errorReply(received.transactionId, 'go away'), received.from);
	});
	const client = udpClient(t);
	const error = await trackerError(t, client.announce(tracker.url, request));
	t.is(error.message, `${tracker.url}: go away`);
	t.deepEqual(requestKinds(tracker), ['connect']);
});

test('a reply of the wrong kind is a TrackerError', async (t) => {
	t.timeout(10_000);
	const tracker = await startFakeTracker(t, (received, fake) => {
		if (received.kind === 'connect') {
			fake.acceptConnect(received);
		} else {
			fake.send(connectReply(received.transactionId, 5n), received.from);
		}
	});
	const client = udpClient(t);
	const error = await trackerError(t, client.announce(tracker.url, request));
	t.regex(error.message, /a connect reply to a announce request/);
});

test('a malformed reply is ignored like silence', async (t) => {
	t.timeout(10_000);
	const tracker = await startFakeTracker(t, (received, fake) => {
		if (received.kind === 'connect') {
			fake.acceptConnect(received);
		} else if (fake.count('announce') === 1) {
			// Too short for an announce reply: dropped, the client asks again.
			fake.send(announceReply(received.transactionId, genuine).subarray(0, 12), received.from);
		} else {
			answerEverything(received, fake);
		}
	});
	const client = udpClient(t, {baseMs: 100, maxRetransmits: 2});
	t.deepEqual(await firstValueFrom(client.announce(tracker.url, request)), genuineResponse);
	t.true(tracker.received.filter((received) => received.kind === 'announce').length >= 2);
});

test('IPv6: a tracker on ::1 sends 18-byte peers', async (t) => {
	t.timeout(10_000);
	const probe = dgram.createSocket('udp6');
	const ipv6 = await new Promise<boolean>((resolve) => {
		probe.once('error', () => resolve(false));
		probe.bind(0, '::1', () => resolve(true));
	});
	probe.close();
	if (!ipv6) {
		t.fail('cannot bind a UDP socket to ::1 on this machine: IPv6 on loopback is needed for this test');
		return;
	}

	const peers6 = Buffer.from(
		[
			'20010db8000000000000000000000001 1ae1',
			'00000000000000000000000000000001 c8d5',
			'00000000000000000000ffff7f000001 0050',
			'fe800000', // a trailing partial entry
		]
			.join('')
			.replaceAll(' ', ''),
		'hex',
	);
	const tracker = await startFakeTracker(
		t,
		(received, fake) => {
			if (received.kind === 'connect') {
				fake.acceptConnect(received);
			} else if (received.kind === 'announce') {
				fake.send(
					announceReply(received.transactionId, {interval: 900, leechers: 1, seeders: 2, peers: peers6}),
					received.from,
				);
			}
		},
		{host: '::1'},
	);
	t.is(tracker.url, `udp://[::1]:${tracker.port}/announce`);
	const client = udpClient(t);
	t.deepEqual(await firstValueFrom(client.announce(tracker.url, request)), {
		interval: 900,
		leechers: 1,
		seeders: 2,
		peers: [
			{host: '2001:db8::1', port: 6881},
			{host: '::1', port: 51_413},
			{host: '127.0.0.1', port: 80},
		],
	});
	t.deepEqual(requestKinds(tracker), ['connect', 'announce']);
	t.is(tracker.received[0]?.from.family, 'IPv6');
});

test('unsubscribing mid-request stops the retransmissions', async (t) => {
	t.timeout(10_000);
	const tracker = await startFakeTracker(t, () => undefined);
	const client = udpClient(t, {baseMs: 300, maxRetransmits: 4});
	const subscription = client.announce(tracker.url, request).subscribe({
		error: (error: unknown) => t.fail(`an unsubscribed announce errored: ${String(error)}`),
	});
	await tracker.waitFor('connect', 1);
	subscription.unsubscribe();
	// Lets a datagram already on its way arrive before counting.
	await delay(100);
	const sent = tracker.received.length;
	t.true(sent <= 2, `${sent} transmissions before the unsubscribe`);
	// Without the unsubscribe it would go out again at 300 ms and 900 ms.
	await delay(1200);
	t.is(tracker.received.length, sent);
});

test('unsubscribing mid-announce: a late reply is harmless and the client still works', async (t) => {
	t.timeout(10_000);
	let late: Received | undefined;
	const tracker = await startFakeTracker(t, (received, fake) => {
		if (received.kind === 'connect') {
			fake.acceptConnect(received);
		} else if (late === undefined) {
			late = received;
		} else {
			answerEverything(received, fake);
		}
	});
	const client = udpClient(t, {baseMs: 2000, maxRetransmits: 1});
	const subscription = client.announce(tracker.url, request).subscribe();
	await tracker.waitFor('announce', 1);
	subscription.unsubscribe();
	if (late) {
		tracker.send(announceReply(late.transactionId, genuine), late.from);
	}

	await delay(100);
	const received = requests(tracker).length;
	t.deepEqual(await firstValueFrom(client.announce(tracker.url, request)), genuineResponse);
	t.deepEqual(
		requestKinds(tracker).slice(received),
		['announce'],
		`the connection id was kept: ${requestKinds(tracker)}`,
	);
});

test('a udp:// URL without a port is a TrackerError', async (t) => {
	t.timeout(10_000);
	const client = udpClient(t);
	const error = await trackerError(t, client.announce('udp://127.0.0.1/announce', request));
	t.regex(error.message, /needs udp:\/\/host:port/);
});

test('announceByScheme: udp:// goes to the UDP client', async (t) => {
	t.timeout(10_000);
	const tracker = await startFakeTracker(t);
	const announce = announceByScheme({
		httpTimeoutMs: 1000,
		udp: {baseMs: 2000, maxRetransmits: 1, connectionIdTtlMs: 60_000, idleMs: 200},
	});
	t.teardown(() => delay(250));
	const url = tracker.url.replace(/^udp:/, 'UDP:');
	t.deepEqual(await firstValueFrom(announce(url, request)), genuineResponse);
	t.deepEqual(requestKinds(tracker), ['connect', 'announce']);
});

test('announceByScheme: an unsupported scheme is a TrackerError naming it', async (t) => {
	t.timeout(10_000);
	const announce = announceByScheme({httpTimeoutMs: 1000});
	const error = await trackerError(t, announce('wss://tracker.example/announce', request));
	t.is(error.message, 'wss://tracker.example/announce: unsupported tracker scheme wss');
	const noScheme = await trackerError(t, announce('tracker.example/announce', request));
	t.regex(noScheme.message, /unsupported tracker scheme/);
});

/**
 * Runs the real announcer against a fake UDP tracker that answers every announce with
 * `interval` (seconds), and says whether it announced `loopAt` times within `watchMs`. A correct
 * announcer sends one: the next is due `interval` seconds later (or at least `min interval`).
 */
async function announcerLoops(t: ExecutionContext, interval: number): Promise<boolean> {
	const loopAt = 5;
	const watchMs = 2000;
	const tracker = await startFakeTracker(t, (received, fake) => {
		if (received.kind === 'connect') {
			fake.acceptConnect(received);
		} else if (received.kind === 'announce') {
			fake.send(announceReply(received.transactionId, {...genuine, interval}), received.from);
		}
	});
	const client = udpClient(t);
	const subscription = announcer((url, announceRequest) => client.announce(url, announceRequest), {
		tiers: [[tracker.url]],
		request: () => ({infoHash, peerId, port: 6881, uploaded: 0, downloaded: 0, left: 1, numwant: 50}),
		completed$: NEVER,
		keepAnnouncing: true,
		hungry$: of(false),
		timeoutMs: 1000,
		retryDelayMs: 1000,
		defaultMinIntervalMs: 30_000,
	}).subscribe();
	t.teardown(() => subscription.unsubscribe());
	// Waits for the announces rather than counting them after a fixed time: a busy machine may be slow to send them.
	const looped = await tracker.waitFor('announce', loopAt, watchMs).then(
		() => true,
		() => false,
	);
	t.log(`announces: ${tracker.count('announce')} ${looped ? '(a loop)' : `in ${watchMs} ms`}`);
	subscription.unsubscribe();
	// Let the `stopped` announce the announcer sends on unsubscribing get its answer.
	await delay(100);
	return looped;
}

// Regression: source/tracker/udp.ts passed a UDP tracker's interval on as is, 0 included (the
// HTTP parser makes a non-positive interval 1800 s), and the announcer then re-announced as fast as
// the tracker answered, hundreds of times a second. Fixed with the HTTP default.
test('a UDP tracker answering interval 0 is not re-announced to in a tight loop', async (t) => {
	t.timeout(10_000);
	t.false(await announcerLoops(t, 0));
});

// Regression: source/tracker/announcer.ts waited `timer(interval * 1000)`; beyond 2^31 - 1 ms
// (about 24.8 days) Node's timers fire after 1 ms instead (TimeoutOverflowWarning), so the
// announcer looped, for HTTP trackers alike. Fixed by capping the interval.
test('a tracker interval beyond 24.8 days does not overflow into a tight loop', async (t) => {
	t.timeout(10_000);
	t.false(await announcerLoops(t, 3_000_000));
});
