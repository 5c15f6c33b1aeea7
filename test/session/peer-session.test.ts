import test from 'ava';
import {asyncScheduler, filter, map, NEVER, Observable, of, Subject, takeUntil, takeWhile, timer} from 'rxjs';
import {Bitfield} from '../../source/codec/bitfield.js';
import {encodeHandshake} from '../../source/codec/handshake.js';
import {encodeMessage, type PeerMessage} from '../../source/codec/messages.js';
import {defaultWindowOptions} from '../../source/download/request-window.js';
import type {PeerSource, RunEvent} from '../../source/events/events.js';
import type {ConnectPort, PeerWire} from '../../source/peer/transport.js';
import {peerSession} from '../../source/session/peer-session.js';
import type {SwarmContext} from '../../source/swarm/swarm-context.js';
import {type FakePeerBehaviour, fakePeer, makeTorrent, memoryStore} from '../helpers/fake-peer.js';
import {testScheduler} from '../helpers/marbles.js';
import {type SwarmContextOverrides, swarmContext, verifierFor} from '../helpers/swarm-context.js';

const address = {host: '127.0.0.2', port: 6881};
const peer = '127.0.0.2:6881';

/** Runs one peer session to its end in virtual time and returns its events and what was stored. */
function runSession(
	t: Parameters<typeof testScheduler>[0],
	torrent: ReturnType<typeof makeTorrent>,
	behaviour: Partial<FakePeerBehaviour> = {},
	contextOverrides: SwarmContextOverrides = {},
	connectOverride?: ConnectPort,
) {
	const store = memoryStore(torrent.pieceLength, torrent.payload.length);
	const context = swarmContext(torrent, {
		...contextOverrides,
		settings: {window: {...defaultWindowOptions, requestTimeoutMs: 5000}, ...contextOverrides.settings},
	});
	const {picker} = context.shared;
	const fake = fakePeer({infoHash: torrent.infoHash, pieces: torrent.pieces, ...behaviour});
	const connect = connectOverride ?? fake;
	const events: RunEvent[] = [];
	let endedAt = -1;
	testScheduler(t).run(({flush}) => {
		peerSession(
			peer,
			connect(address),
			{
				connect,
				verifyPiece: verifierFor(torrent),
				store,
				readBlock: (index, begin, length) =>
					store.readPiece(index).pipe(map((piece) => piece.subarray(begin, begin + length))),
			},
			context,
		)
			.pipe(
				// As the swarm does: the session ends with the download, or here at a virtual minute.
				takeWhile((event) => event.type !== 'completed', true),
				takeUntil(timer(60_000)),
			)
			.subscribe({
				next: (event) => events.push(event),
				complete: () => {
					endedAt = asyncScheduler.now();
				},
			});
		flush();
	});
	return {events, store, picker, context, endedAt, connections: fake.connections};
}

const types = (events: RunEvent[]) => events.map((event) => event.type);

test('downloads every piece from an honest peer, verified and stored in full', (t) => {
	const torrent = makeTorrent(5 * 32 * 1024 + 1000, 32 * 1024);
	const {events, store, picker} = runSession(t, torrent, {}, {});
	t.true(picker.complete);
	t.true(store.data.equals(torrent.payload));
	t.deepEqual(types(events).slice(0, 3), ['peer-connecting', 'peer-connected', 'peer-unchoked']);
	const verified = events.filter((event) => event.type === 'piece-verified');
	t.is(verified.length, 6);
	// Requests go out with the handshake's answer at 1 ms; each block comes back 1 ms later.
	for (const event of verified) {
		t.true((event.durationMs ?? 0) >= 1, `piece ${event.index} took ${event.durationMs} ms`);
	}

	t.is(events.at(-1)?.type, 'completed');
});

const disconnectReason = (events: RunEvent[]) => {
	const last = events.at(-1);
	return last?.type === 'peer-disconnected' ? last.reason : `no disconnect, last event ${last?.type}`;
};

test('a piece that fails its hash goes back to the pool and is fetched again', (t) => {
	const torrent = makeTorrent(4 * 32 * 1024, 32 * 1024);
	const {events, store, context} = runSession(t, torrent, {corrupt: {pieces: [2], times: 1}});
	t.true(store.data.equals(torrent.payload));
	t.deepEqual(
		events.filter((event) => event.type === 'piece-failed'),
		[{type: 'piece-failed', peer, index: 2, strikes: 1}],
	);
	t.is(events.filter((event) => event.type === 'piece-verified' && event.index === 2).length, 1);
	t.is(context.reputation.strikesOf(peer), 1);
	t.is(events.at(-1)?.type, 'completed');
});

test('a peer whose pieces keep failing the hash is dropped and banned, and nothing bad is stored', (t) => {
	const torrent = makeTorrent(6 * 32 * 1024, 32 * 1024);
	const {events, store, context, picker} = runSession(t, torrent, {corrupt: {pieces: [0, 1, 2, 3, 4, 5]}});
	t.is(events.filter((event) => event.type === 'piece-failed').length, 3);
	t.regex(disconnectReason(events), /3 pieces that failed the hash/);
	t.true(context.reputation.isBanned(peer));
	t.deepEqual(store.written, []);
	t.is(picker.doneCount, 0);
	const again = new Set(Array.from({length: 6}, () => picker.pick(fullBitfield(6))?.index));
	t.deepEqual([...again].sort(), [0, 1, 2, 3, 4, 5], 'every piece went back to the pool');
});

test('a handshake for another torrent ends the session before anything is requested', (t) => {
	const torrent = makeTorrent(32 * 1024, 32 * 1024);
	const {events} = runSession(t, torrent, {infoHash: Buffer.alloc(20, 9)});
	t.deepEqual(types(events), ['peer-connecting', 'peer-disconnected']);
	t.is(disconnectReason(events), 'handshake for another torrent');
});

test('a block we did not request drops the peer and returns its pieces to the pool', (t) => {
	const torrent = makeTorrent(2 * 32 * 1024, 32 * 1024);
	const {events, picker} = runSession(t, torrent, {sendUnrequested: true});
	t.regex(disconnectReason(events), /block we did not request/);
	t.is(picker.doneCount, 0);
	t.true(picker.pick(fullBitfield(2)) !== undefined, 'the piece can be picked again');
});

test('a length prefix over the cap drops the peer without buffering it', (t) => {
	const torrent = makeTorrent(32 * 1024, 32 * 1024);
	const hostile = Buffer.alloc(4);
	hostile.writeUInt32BE(0x80_00_00_00);
	const {events} = runSession(t, torrent, {extraBytes: hostile});
	t.regex(disconnectReason(events), /message length 2147483648 exceeds/);
});

test('a choke returns outstanding blocks to the pool; after the unchoke the download completes', (t) => {
	const torrent = makeTorrent(3 * 64 * 1024, 64 * 1024);
	const {events, store} = runSession(t, torrent, {chokeAfterBlocks: 5, unchokeAfterMs: 50});
	t.true(store.data.equals(torrent.payload));
	const sequence = types(events).filter((type) => type === 'peer-choked' || type === 'peer-unchoked');
	t.deepEqual(sequence, ['peer-unchoked', 'peer-choked', 'peer-unchoked']);
	t.is(events.at(-1)?.type, 'completed');
});

test('a peer that stops answering requests is dropped after the request timeout', (t) => {
	const torrent = makeTorrent(32 * 1024, 32 * 1024);
	const {events, endedAt, picker} = runSession(t, torrent, {silent: true});
	// The exchange, and its one-second ticks, start with the peer's handshake at 1 ms, when the
	// requests go out too: the fifth tick finds them 5 s old and drops the peer.
	t.regex(disconnectReason(events), /no block for 5 s/);
	t.is(endedAt, 5001);
	t.is(picker.bytesInFlight, 0);
});

test('a peer that never completes the handshake times out', (t) => {
	const torrent = makeTorrent(32 * 1024, 32 * 1024);
	const {events, endedAt} = runSession(t, torrent, {}, {}, () =>
		of({incoming$: NEVER, send: () => true, drained$: NEVER}),
	);
	t.is(disconnectReason(events), 'no handshake within 3 s');
	t.is(endedAt, 3000);
});

function fullBitfield(count: number) {
	const bitfield = new Bitfield(count);
	bitfield.setAll();
	return bitfield;
}

test('nothing but our handshake goes out before the peer has sent its own (BEP 3; aria2 insists)', (t) => {
	const torrent = makeTorrent(4 * 16 * 1024, 16 * 1024);
	const context = swarmContext(torrent);
	// A resumed download: one piece on disk before the connection, another verified while the
	// peer's handshake is still on its way.
	context.shared.picker.markDone(0);
	const sent: Array<{at: number; bytes: Buffer}> = [];
	const wire: ConnectPort = () =>
		testSchedulerWire((bytes) => sent.push({at: asyncScheduler.now(), bytes}), torrent.infoHash);
	runOnWire(t, torrent, context, wire, {
		whileRunning: () => asyncScheduler.schedule(() => context.shared.picker.markDone(1), 10),
	});
	const early = sent.filter(({at}) => at < 50);
	t.is(early.length, 1);
	t.is(early[0]?.bytes.length, 68, 'our handshake');
	const firstAfter = sent.find(({at}) => at >= 50)?.bytes;
	t.is(firstAfter?.readUInt8(4), 5, 'then the bitfield');
	t.is(firstAfter?.readUInt8(5), 0b1100_0000, 'with both pieces');
});

/** A wire whose peer sends its handshake 50 ms after the connection, then `after`, and nothing else. */
function testSchedulerWire(
	onSend: (bytes: Buffer) => void,
	infoHash: Buffer,
	reserved = Buffer.alloc(8),
	after: PeerMessage[] = [],
) {
	return new Observable<PeerWire>((subscriber) => {
		const incoming$ = new Subject<Buffer>();
		const later = asyncScheduler.schedule(
			() =>
				incoming$.next(
					Buffer.concat([
						encodeHandshake({reserved, infoHash, peerId: Buffer.from('A2-1-36-0-0123456789')}),
						...after.map(encodeMessage),
					]),
				),
			50,
		);
		subscriber.next({
			incoming$,
			send(bytes) {
				onSend(Buffer.from(bytes));
				return true;
			},
			drained$: NEVER,
		});
		return () => later.unsubscribe();
	});
}

/**
 * Runs a session on `wire` (a `testSchedulerWire`) for 100 virtual ms, with `whileRunning`
 * scheduling what else happens meanwhile; its events.
 */
function runOnWire(
	t: Parameters<typeof testScheduler>[0],
	torrent: ReturnType<typeof makeTorrent>,
	context: SwarmContext,
	wire: ConnectPort,
	{source, whileRunning}: {source?: PeerSource; whileRunning?: () => void} = {},
): RunEvent[] {
	const events: RunEvent[] = [];
	testScheduler(t).run(({flush}) => {
		const subscription = peerSession(
			peer,
			wire(address),
			{
				connect: wire,
				verifyPiece: verifierFor(torrent),
				store: memoryStore(torrent.pieceLength, torrent.payload.length),
				readBlock: () => NEVER,
			},
			context,
			source,
		).subscribe((event) => events.push(event));
		whileRunning?.();
		asyncScheduler.schedule(() => subscription.unsubscribe(), 100);
		flush();
	});
	return events;
}

for (const [title, done, expected] of [
	['nothing', 0, undefined],
	['every piece', 4, 0x0e],
	['some pieces', 1, 0x05],
] as const) {
	test(`with the fast extension (BEP 6), a session that has ${title} opens with ${expected === 0x05 ? 'its bitfield' : expected === 0x0e ? 'have-all' : 'nothing (no have-none)'}`, (t) => {
		const torrent = makeTorrent(4 * 16 * 1024, 16 * 1024);
		const context = swarmContext(torrent);
		for (let index = 0; index < done; index++) {
			context.shared.picker.markDone(index);
		}

		const sent: Buffer[] = [];
		// The peer sets the fast bit (byte 7, 0x04) and no other.
		const reserved = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x04]);
		const wire: ConnectPort = () =>
			testSchedulerWire((bytes) => sent.push(bytes), torrent.infoHash, reserved);
		runOnWire(t, torrent, context, wire);
		t.is(sent[0]?.readUInt8(27), 0x04, 'our handshake sets the fast bit too');
		t.is(sent[1]?.readUInt8(4), expected);
		t.is(sent.length, expected === undefined ? 1 : 2);
	});
}

/** Runs a session on a wire whose peer sends its handshake (for `infoHash`) at 50 ms; what we sent, and when. */
function sentOnWire(
	t: Parameters<typeof testScheduler>[0],
	torrent: ReturnType<typeof makeTorrent>,
	source: 'incoming' | 'tracker',
	infoHash = torrent.infoHash,
) {
	const context = swarmContext(torrent);
	context.shared.picker.markDone(0);
	const sent: Array<{at: number; bytes: Buffer}> = [];
	const wire: ConnectPort = () =>
		testSchedulerWire((bytes) => sent.push({at: asyncScheduler.now(), bytes}), infoHash);
	const events = runOnWire(t, torrent, context, wire, {source});
	return {sent, events};
}

test('on an incoming connection our handshake waits for the peer’s, so a caller learns nothing first', (t) => {
	const torrent = makeTorrent(4 * 16 * 1024, 16 * 1024);
	const {sent} = sentOnWire(t, torrent, 'incoming');
	t.deepEqual(
		sent.map(({at, bytes}) => [at, bytes.length]),
		[
			[50, 68],
			[50, 6],
		],
		'our handshake, then the bitfield, once the peer’s handshake is in',
	);
	t.true(sent[0]?.bytes.subarray(28, 48).equals(torrent.infoHash));
});

test('an incoming caller that names another torrent never hears our info hash', (t) => {
	const torrent = makeTorrent(4 * 16 * 1024, 16 * 1024);
	const {sent, events} = sentOnWire(t, torrent, 'incoming', Buffer.alloc(20, 7));
	t.deepEqual(sent, []);
	t.is(disconnectReason(events), 'handshake for another torrent');
});

test('dialling out, our handshake goes first, as BEP 3 has the initiator do', (t) => {
	const torrent = makeTorrent(4 * 16 * 1024, 16 * 1024);
	const {sent} = sentOnWire(t, torrent, 'tracker');
	t.deepEqual(
		sent.map(({at, bytes}) => [at, bytes.length]),
		[
			[0, 68],
			[50, 6],
		],
	);
});

const fastBit = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x04]);

/** A session (seeding when `seeding`) whose peer sends `messages` after its handshake; its events. */
function sessionHearing(
	t: Parameters<typeof testScheduler>[0],
	messages: PeerMessage[],
	{reserved = fastBit, seeding = false} = {},
) {
	const torrent = makeTorrent(4 * 16 * 1024, 16 * 1024);
	const context = swarmContext(torrent);
	for (let index = 0; seeding && index < 4; index++) {
		context.shared.picker.markDone(index);
	}

	const wire: ConnectPort = () => testSchedulerWire(() => undefined, torrent.infoHash, reserved, messages);
	return runOnWire(t, torrent, context, wire);
}

for (const message of [
	{type: 'have-all'},
	{type: 'have-none'},
	{type: 'suggest', index: 0},
	{type: 'allowed-fast', index: 0},
	{type: 'reject', index: 0, begin: 0, length: 16 * 1024},
] as const) {
	test(`${message.type} from a peer that did not set the fast bit (BEP 6) drops it`, (t) => {
		const events = sessionHearing(t, [message], {reserved: Buffer.alloc(8)});
		t.is(disconnectReason(events), `${message.type} without the fast extension (BEP 6)`);
	});
}

test('with the fast extension agreed, have-all is taken', (t) => {
	const events = sessionHearing(t, [{type: 'have-all'}]);
	t.is(disconnectReason(events), 'no disconnect, last event peer-connected');
});

test('an extended handshake and a port before the bitfield are fine (aria2 and Transmission send them first)', (t) => {
	const events = sessionHearing(t, [
		{type: 'extended', extension: 0, payload: Buffer.from('de')},
		{type: 'port', port: 6881},
		{type: 'bitfield', bitfield: Buffer.from([0x80])},
	]);
	t.is(disconnectReason(events), 'no disconnect, last event peer-connected');
});

test('seeding, a second have-none drops the peer too: the serving side goes with the session', (t) => {
	const events = sessionHearing(t, [{type: 'have-none'}, {type: 'have-none'}], {seeding: true});
	t.is(disconnectReason(events), 'have-none after its availability was said');
});

test('the wire and the peer’s bytes are subscribed once for the whole session, and let go of when it ends', (t) => {
	const torrent = makeTorrent(4 * 16 * 1024, 16 * 1024);
	const context = swarmContext(torrent);
	testScheduler(t).run(({cold, hot, expectObservable, expectSubscriptions}) => {
		const peersHandshake = encodeHandshake({
			reserved: Buffer.alloc(8),
			infoHash: torrent.infoHash,
			peerId: Buffer.from('A2-1-36-0-0123456789'),
		});
		// The handshake, the peer's interest, then a `have` of a piece the torrent does not have.
		const incoming$ = hot<Buffer>('--h--i--x', {
			h: peersHandshake,
			i: encodeMessage({type: 'interested'}),
			x: encodeMessage({type: 'have', index: 99}),
		});
		const wire$ = cold<PeerWire>('w', {w: {incoming$, send: () => true, drained$: NEVER}});
		const session$ = peerSession(
			peer,
			wire$,
			{
				connect: () => wire$,
				verifyPiece: verifierFor(torrent),
				store: memoryStore(torrent.pieceLength, torrent.payload.length),
				readBlock: () => NEVER,
			},
			context,
		);
		const milestones = ['peer-connecting', 'peer-connected', 'peer-disconnected'];
		expectObservable(
			session$.pipe(
				filter((event) => milestones.includes(event.type)),
				map((event) => event.type),
			),
		).toBe('a-b-----(c|)', {a: 'peer-connecting', b: 'peer-connected', c: 'peer-disconnected'});
		expectSubscriptions(wire$.subscriptions).toBe('^-------!');
		expectSubscriptions(incoming$.subscriptions).toBe('^-------!');
	});
});
