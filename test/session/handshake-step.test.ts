import test from 'ava';
import {asyncScheduler, concat, map, type Observable, of, Subject, take} from 'rxjs';
import {encodeHandshake} from '../../source/codec/handshake.js';
import {decodeMessage, encodeMessage} from '../../source/codec/messages.js';
import {PeerProtocolError} from '../../source/errors.js';
import type {PeerWire} from '../../source/peer/transport.js';
import {admitToSwarm, forTorrent} from '../../source/session/handshake-checks.js';
import {
	type Handshaken,
	type HandshakeStepOptions,
	handshakeStep,
} from '../../source/session/handshake-step.js';
import {makeTorrent} from '../helpers/fake-peer.js';
import {testScheduler} from '../helpers/marbles.js';
import {swarmContext} from '../helpers/swarm-context.js';

const torrent = makeTorrent(4 * 16 * 1024, 16 * 1024);
const {infoHash} = torrent;
const ourPeerId = Buffer.from('-RX0001-000000000000');
const theirPeerId = Buffer.from('-LT2080-remotepeer00');
/** BEP 10's bit (byte 5, 0x10) and BEP 6's (byte 7, 0x04). */
const bothBits = Buffer.from([0, 0, 0, 0, 0, 0x10, 0, 0x04]);

/** The peer's handshake as it comes off the socket. */
const theirHandshake = ({reserved = bothBits, hash = infoHash, peerId = theirPeerId} = {}) =>
	encodeHandshake({reserved, infoHash: hash, peerId});

const have = (index: number) => encodeMessage({type: 'have', index});

/** What we wrote, by name: `ours` (our handshake, our bits, torrent and peer id) or the message's type. */
function named(bytes: Buffer): string {
	if (bytes.length === 68 && bytes.readUInt8(0) === 19) {
		const ours =
			bytes.subarray(28, 48).equals(infoHash) &&
			bytes.subarray(48, 68).equals(ourPeerId) &&
			bytes.readUInt8(25) === 0x10 &&
			bytes.readUInt8(27) === 0x04;
		return ours ? 'ours' : 'another handshake';
	}

	return decodeMessage(bytes.subarray(4)).type;
}

/** A wire over `incoming$` whose writes go to `sent$`, each by name. */
function wireOver(incoming$: Observable<Buffer>): {wire: PeerWire; sent$: Subject<string>} {
	const sent$ = new Subject<string>();
	const wire: PeerWire = {
		incoming$,
		send(bytes) {
			sent$.next(named(bytes));
			return true;
		},
		drained$: new Subject<void>(),
	};
	return {wire, sent$};
}

function options(overrides: Partial<HandshakeStepOptions> = {}): HandshakeStepOptions {
	return {
		infoHash,
		peerId: ourPeerId,
		dialling: true,
		maxMessageLength: 1024,
		handshakeTimeoutMs: 3000,
		// Virtual inside `TestScheduler.run`.
		scheduler: asyncScheduler,
		check: forTorrent(infoHash),
		...overrides,
	};
}

/**
 * A session as a peer session starts: it sends a `port` message at once (as a bitfield would go),
 * then emits the capabilities and the peer's messages by type.
 */
const reporting =
	(wire: PeerWire) =>
	({capabilities, messages$}: Handshaken): Observable<unknown> => {
		wire.send(encodeMessage({type: 'port', port: 6881}));
		return concat(of(capabilities), messages$.pipe(map((message) => message.type)));
	};

const capabilities = {peerId: theirPeerId, extended: true, fast: true};

test('dialling out: ours at once, nothing else before the peer’s; its capabilities as a value, then its messages', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const incoming$ = cold('-----h--m--|', {h: theirHandshake(), m: have(3)});
		const {wire, sent$} = wireOver(incoming$);
		expectObservable(sent$).toBe('a----b', {a: 'ours', b: 'port'});
		expectObservable(handshakeStep(wire, options(), reporting(wire))).toBe('-----c--m--|', {
			c: capabilities,
			m: 'have',
		});
		expectSubscriptions(incoming$.subscriptions).toBe('^----------!');
	});
});

test('answering a caller: ours only once its handshake is in and checked, and before anything else', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const incoming$ = cold('-----h--m--|', {h: theirHandshake(), m: have(3)});
		const {wire, sent$} = wireOver(incoming$);
		expectObservable(sent$).toBe('-----(ab)', {a: 'ours', b: 'port'});
		expectObservable(handshakeStep(wire, options({dialling: false}), reporting(wire))).toBe('-----c--m--|', {
			c: capabilities,
			m: 'have',
		});
		expectSubscriptions(incoming$.subscriptions).toBe('^----------!');
	});
});

test('the messages that came in the same chunk as the handshake are not missed', (t) => {
	testScheduler(t).run(({cold, expectObservable}) => {
		const chunk = Buffer.concat([theirHandshake(), have(1), encodeMessage({type: 'unchoke'})]);
		const {wire} = wireOver(cold('--x 4ms |', {x: chunk}));
		expectObservable(handshakeStep(wire, options(), reporting(wire))).toBe('--(cau)|', {
			c: capabilities,
			a: 'have',
			u: 'unchoke',
		});
	});
});

test('the capabilities say what the reserved bytes say (BEP 10 bit 20, BEP 6 bit 2)', (t) => {
	testScheduler(t).run(({cold, expectObservable}) => {
		const session = ({capabilities}: Handshaken) => of(capabilities);
		for (const [reserved, extended, fast] of [
			[Buffer.alloc(8), false, false],
			[Buffer.from([0, 0, 0, 0, 0, 0x10, 0, 0]), true, false],
			[Buffer.from([0, 0, 0, 0, 0, 0, 0, 0x04]), false, true],
			[Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xef, 0xff, 0xfb]), false, false],
		] as const) {
			const {wire} = wireOver(cold('-h', {h: theirHandshake({reserved})}));
			expectObservable(handshakeStep(wire, options(), session)).toBe('-(c|)', {
				c: {peerId: theirPeerId, extended, fast},
			});
		}
	});
});

test('no handshake within the timeout: the session fails saying so, and lets go of the socket', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const incoming$ = cold<Buffer>('-');
		const {wire, sent$} = wireOver(incoming$);
		expectObservable(sent$).toBe('a', {a: 'ours'});
		expectObservable(handshakeStep(wire, options(), reporting(wire))).toBe(
			'3000ms #',
			undefined,
			new PeerProtocolError('no handshake within 3 s'),
		);
		expectSubscriptions(incoming$.subscriptions).toBe('^ 2999ms !');
	});
});

test('answering, a caller that never sends its handshake never hears ours', (t) => {
	testScheduler(t).run(({cold, expectObservable}) => {
		const {wire, sent$} = wireOver(cold<Buffer>('-'));
		expectObservable(sent$).toBe('');
		expectObservable(handshakeStep(wire, options({dialling: false}), reporting(wire))).toBe(
			'3000ms #',
			undefined,
			new PeerProtocolError('no handshake within 3 s'),
		);
	});
});

/** Runs the step for a caller (answering) whose handshake arrives at 5 ms, under `check`. */
function refused(
	t: Parameters<typeof testScheduler>[0],
	check: HandshakeStepOptions['check'],
	handshake: Buffer,
	reason: string,
) {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const incoming$ = cold('-----h--m--|', {h: handshake, m: have(3)});
		const {wire, sent$} = wireOver(incoming$);
		expectObservable(sent$).toBe('', undefined, undefined);
		expectObservable(handshakeStep(wire, options({dialling: false, check}), reporting(wire))).toBe(
			'-----#',
			undefined,
			new PeerProtocolError(reason),
		);
		expectSubscriptions(incoming$.subscriptions).toBe('^----!');
	});
}

test('a handshake for another torrent fails the step, and a caller never hears our info hash', (t) => {
	refused(
		t,
		forTorrent(infoHash),
		theirHandshake({hash: Buffer.alloc(20, 7)}),
		'handshake for another torrent',
	);
});

test('in a swarm, our own peer id means the address is ours: refused, and remembered as ours', (t) => {
	const context = swarmContext(torrent, {settings: {peerId: ourPeerId}});
	refused(
		t,
		admitToSwarm('10.0.0.1:6881', context),
		theirHandshake({peerId: ourPeerId}),
		'connected to ourselves',
	);
	t.true(context.reputation.isOurs('10.0.0.1:6881'));
});

test('in a swarm, a banned peer calling from a new address is known by its peer id and refused', (t) => {
	const context = swarmContext(torrent, {settings: {peerId: ourPeerId}});
	t.true(context.reputation.admit('10.0.0.1:6881', theirPeerId.toString('hex')).admitted);
	context.reputation.ban('10.0.0.1:6881');
	refused(t, admitToSwarm('10.0.0.1:7000', context), theirHandshake(), 'banned (as 10.0.0.1:6881)');
});

test('in a swarm, a handshake for another torrent is refused before the peer id is looked at', (t) => {
	const context = swarmContext(torrent, {settings: {peerId: ourPeerId}});
	refused(
		t,
		admitToSwarm('10.0.0.1:6881', context),
		theirHandshake({hash: Buffer.alloc(20, 7), peerId: ourPeerId}),
		'handshake for another torrent',
	);
	t.false(context.reputation.isOurs('10.0.0.1:6881'));
});

test('the socket is let go when the session ends, and when the consumer lets go', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const ended$ = cold('-h-m-m-m', {h: theirHandshake(), m: have(0)});
		const first = wireOver(ended$).wire;
		expectObservable(
			handshakeStep(first, options(), ({messages$}) =>
				messages$.pipe(
					map((message) => message.type),
					take(2),
				),
			),
		).toBe('---m-(m|)', {m: 'have'});
		expectSubscriptions(ended$.subscriptions).toBe('^----!');

		const dropped$ = cold('-h-m-m-m', {h: theirHandshake(), m: have(0)});
		const second = wireOver(dropped$).wire;
		expectObservable(handshakeStep(second, options(), reporting(second)), '^---!').toBe('-c-m', {
			c: capabilities,
			m: 'have',
		});
		expectSubscriptions(dropped$.subscriptions).toBe('^---!');
	});
});

test('a session that fails fails the step, and the socket is let go', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const incoming$ = cold('-h-m-m', {h: theirHandshake(), m: have(0)});
		const {wire} = wireOver(incoming$);
		const failing = (): Observable<never> => {
			throw new PeerProtocolError('no thanks');
		};
		expectObservable(handshakeStep(wire, options(), failing)).toBe(
			'-#',
			undefined,
			new PeerProtocolError('no thanks'),
		);
		expectSubscriptions(incoming$.subscriptions).toBe('^!');
	});
});
