import test from 'ava';
import {asyncScheduler, NEVER, Subject} from 'rxjs';
import {cryptoPlaintext, cryptoRc4, req2Hash} from '../../source/codec/mse-crypto.js';
import {PeerProtocolError} from '../../source/errors.js';
import {encryptedStream, type ProtectedWire} from '../../source/peer/encrypted-stream.js';
import {NotTakenUp} from '../../source/peer/mse-handshake.js';
import {MseInitiator} from '../../source/peer/mse-initiator.js';
import {MseReceiver} from '../../source/peer/mse-receiver.js';
import type {PeerWire} from '../../source/peer/transport.js';
import {testScheduler} from '../helpers/marbles.js';
import {oneMillisecondApart} from '../helpers/virtual-wire.js';

const infoHash = Buffer.alloc(20, 0x5a);
const served = new Map([[req2Hash(infoHash).toString('hex'), infoHash]]);
const options = {timeoutMs: 5000};

/** Two ends of a connection 1 virtual ms apart; what each end wrote, as it went on the wire. */
function connection() {
	const toA = new Subject<Buffer>();
	const toB = new Subject<Buffer>();
	const raw = {a: [] as Buffer[], b: [] as Buffer[]};
	return {
		a: oneMillisecondApart(toA, toB, raw.a),
		b: oneMillisecondApart(toB, toA, raw.b),
		raw,
		close: () => toB.complete(),
	};
}

const initiator = (provide = cryptoRc4 | cryptoPlaintext) =>
	new MseInitiator({infoHash, provide, initialPayload: Buffer.alloc(0)});
const preferRc4 = (provided: number): number => (provided & cryptoRc4 ? cryptoRc4 : cryptoPlaintext);
const receiver = (choose: (provided: number) => number = preferRc4) => new MseReceiver({served, choose});

/** Both ends through the handshake; then A and B each send one message; what each read. */
function talk(choose?: (provided: number) => number) {
	const {a, b, raw} = connection();
	const read = {a: [] as string[], b: [] as string[]};
	const wires: {a?: ProtectedWire; b?: ProtectedWire} = {};
	const sentByA = Buffer.from('hello from A');
	for (const [side, wire, handshake] of [
		['a', a, initiator()],
		['b', b, receiver(choose)],
	] as const) {
		encryptedStream(wire, handshake, options).subscribe((protectedWire) => {
			wires[side] = protectedWire;
			protectedWire.incoming$.subscribe((chunk) => read[side].push(chunk.toString()));
		});
	}

	asyncScheduler.schedule(() => {
		wires.a?.send(sentByA);
		wires.b?.send(Buffer.from('hello from B'));
	}, 100);
	return {read, raw, wires, sentByA};
}

test('through RC4 each way: what one end sends the other reads, and the wire never carries it in clear', (t) => {
	testScheduler(t).run(({flush}) => {
		const {read, raw, wires, sentByA} = talk();
		flush();
		t.deepEqual([wires.a?.protection, wires.b?.protection], ['rc4', 'rc4']);
		t.deepEqual(wires.b?.infoHash, infoHash);
		t.deepEqual(read.b, ['hello from A']);
		t.deepEqual(read.a, ['hello from B']);
		const everything = Buffer.concat([...raw.a, ...raw.b]).toString('latin1');
		t.false(everything.includes('hello'));
		t.is(sentByA.toString(), 'hello from A', 'the sender’s buffer is left as it was');
	});
});

test('plaintext chosen: after the handshake the bytes go as they are', (t) => {
	testScheduler(t).run(({flush}) => {
		const {read, raw, wires} = talk(() => cryptoPlaintext);
		flush();
		t.deepEqual([wires.a?.protection, wires.b?.protection], ['plaintext', 'plaintext']);
		t.deepEqual(read.b, ['hello from A']);
		t.true(raw.a.some((bytes) => bytes.toString() === 'hello from A'));
	});
});

test('a peer that never answers: NotTakenUp when the time is up, and the bytes are let go of', (t) => {
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const incoming$ = hot<Buffer>('-');
		const silent: PeerWire = {incoming$, send: () => true, drained$: NEVER};
		expectObservable(encryptedStream(silent, initiator(), options)).toBe(
			'5000ms #',
			undefined,
			new NotTakenUp('MSE handshake not done within 5 s'),
		);
		expectSubscriptions(incoming$.subscriptions).toBe('^ 4999ms !');
	});
});

test('a peer that hangs up before the keys are exchanged: NotTakenUp (worth a plaintext retry), at once', (t) => {
	testScheduler(t).run(({hot, expectObservable}) => {
		const closing: PeerWire = {incoming$: hot<Buffer>('--|'), send: () => true, drained$: NEVER};
		expectObservable(encryptedStream(closing, initiator(), options)).toBe(
			'--#',
			undefined,
			new NotTakenUp('the peer closed during the MSE handshake'),
		);
		const resetting: PeerWire = {
			incoming$: hot<Buffer>('-#', undefined, new Error('ECONNRESET')),
			send: () => true,
			drained$: NEVER,
		};
		expectObservable(encryptedStream(resetting, receiver(), options)).toBe(
			'-#',
			undefined,
			new NotTakenUp('the peer hung up on the MSE handshake', {cause: new Error('ECONNRESET')}),
		);
	});
});

test('a peer that breaks the handshake: its error, and its bytes let go of', (t) => {
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const incoming$ = hot<Buffer>('--k', {k: Buffer.alloc(96, 0xff)});
		const hostile: PeerWire = {incoming$, send: () => true, drained$: NEVER};
		expectObservable(encryptedStream(hostile, receiver(), options)).toBe(
			'--#',
			undefined,
			new PeerProtocolError('MSE public key out of range'),
		);
		expectSubscriptions(incoming$.subscriptions).toBe('^-!');
	});
});

test('the initiator speaks first, the receiver only once the key is in', (t) => {
	testScheduler(t).run(({flush}) => {
		const {a, b, raw} = connection();
		encryptedStream(a, initiator(), options).subscribe();
		t.is(raw.a.length, 1, 'Ya and PadA at once');
		encryptedStream(b, receiver(), options).subscribe();
		t.is(raw.b.length, 0, 'nothing before Ya arrives');
		flush();
		t.is(raw.b.length, 2, 'Yb and PadB, then VC and crypto_select');
	});
});

test('an initiator’s wire comes at the key exchange: what its reader sends at once rides in the request as IA, later sends wait for crypto_select', (t) => {
	testScheduler(t).run(({flush}) => {
		const {a, b, raw} = connection();
		const readByB: string[] = [];
		let handedOutAt: number | undefined;
		encryptedStream(a, new MseInitiator({infoHash, provide: cryptoRc4}), options).subscribe((wire) => {
			handedOutAt = asyncScheduler.now();
			t.is(wire.protection, undefined, 'not settled before the peer’s crypto_select');
			wire.send(Buffer.from('our handshake'));
			asyncScheduler.schedule(() => wire.send(Buffer.from(', then a bitfield')), 1);
		});
		encryptedStream(b, receiver(), options).subscribe((wire) => {
			wire.incoming$.subscribe((chunk) => readByB.push(chunk.toString()));
		});
		flush();
		t.is(handedOutAt, 2, 'handed out as Yb arrived, one round trip in');
		t.is(raw.a.length, 3, 'Ya, the request with the IA, and the held send after the answer');
		t.deepEqual(readByB, ['our handshake', ', then a bitfield']);
	});
});
