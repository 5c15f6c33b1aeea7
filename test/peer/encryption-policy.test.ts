import test from 'ava';
import {asyncScheduler, Observable, Subject} from 'rxjs';
import type {PeerAddress} from '../../source/codec/compact-peers.js';
import {plaintextHandshakeStart} from '../../source/codec/handshake.js';
import {cryptoPlaintext, cryptoRc4, req2Hash} from '../../source/codec/mse-crypto.js';
import {encryptedStream} from '../../source/peer/encrypted-stream.js';
import {dialUnder, type EncryptionPolicy, incomingProtocolsFor} from '../../source/peer/encryption-policy.js';
import {MseReceiver} from '../../source/peer/mse-receiver.js';
import type {ConnectPort, PeerWire} from '../../source/peer/transport.js';
import {testScheduler} from '../helpers/marbles.js';
import {oneMillisecondApart} from '../helpers/virtual-wire.js';

const infoHash = Buffer.alloc(20, 0x42);
const served = new Map([[req2Hash(infoHash).toString('hex'), infoHash]]);
const peer: PeerAddress = {host: '203.0.113.7', port: 51413};

/** How the far end treats a connection: a client with MSE/PE, one without (it hangs up on anything else), one that requires it. */
type Far = 'speaks-mse' | 'plaintext-only' | 'requires-mse';

/** A ConnectPort to one fake peer: each dial a connection, logged with the first bytes it got. */
function fakePeer(far: Far) {
	const dials: Array<{firstBytes: Buffer; provided?: number}> = [];
	const connect: ConnectPort = () =>
		new Observable<PeerWire>((subscriber) => {
			const toUs = new Subject<Buffer>();
			const fromUs = new Subject<Buffer>();
			const dial: {firstBytes: Buffer; provided?: number} = {firstBytes: Buffer.alloc(0)};
			dials.push(dial);
			let seen = Buffer.alloc(0);
			const hangUp = () => asyncScheduler.schedule(() => toUs.complete(), 1);
			fromUs.subscribe((bytes) => {
				seen = Buffer.concat([seen, bytes]);
				dial.firstBytes = seen.subarray(0, 20);
				const plaintext = seen.subarray(0, 20).equals(plaintextHandshakeStart);
				if (seen.length < 20 || far === 'speaks-mse') {
					return;
				}

				if ((far === 'plaintext-only') !== plaintext) {
					hangUp();
				}
			});
			if (far === 'speaks-mse') {
				// A real MSE/PE receiver at the far end, choosing RC4 when it may.
				const farWire = oneMillisecondApart(fromUs, toUs);
				const receiver = new MseReceiver({
					served,
					choose: (provided) => {
						dial.provided = provided;
						return provided & cryptoRc4 ? cryptoRc4 : cryptoPlaintext;
					},
				});
				encryptedStream(farWire, receiver, {timeoutMs: 5000}).subscribe({error: () => undefined});
			}

			subscriber.next(oneMillisecondApart(toUs, fromUs));
		});
	return {connect, dials};
}

/** Dials the fake peer under `policy` `times` times in a row, each once its wire is in hand (plaintext sends its handshake). */
function dialTimes(policy: EncryptionPolicy, far: Far, times: number) {
	const fake = fakePeer(far);
	const port = dialUnder(policy, fake.connect, {infoHash, timeoutMs: 5000});
	// The wires, read once the test has run: an encrypted one says how it is protected only once its handshake is done.
	const results: Array<PeerWire | string> = [];
	const outcomes = () =>
		results.map((result) => (typeof result === 'string' ? result : (result.protection ?? 'plaintext')));
	for (let index = 0; index < times; index++) {
		asyncScheduler.schedule(() => {
			port(peer).subscribe({
				next(wire) {
					results.push(wire);
					// What a session does first on a dialled wire: our handshake.
					wire.send(Buffer.concat([plaintextHandshakeStart, Buffer.alloc(48)]));
					wire.incoming$.subscribe({error: () => undefined});
				},
				error: (error: Error) => results.push(`error: ${error.message}`),
			});
		}, index * 1000);
	}

	return {outcomes, dials: fake.dials};
}

const isPlaintext = (bytes: Buffer) => bytes.equals(plaintextHandshakeStart);

test('prefer, against a client without MSE/PE: encrypted first, plaintext at once when it hangs up, and plaintext from then on', (t) => {
	testScheduler(t).run(({flush}) => {
		const {outcomes, dials} = dialTimes('prefer', 'plaintext-only', 2);
		flush();
		t.deepEqual(
			dials.map((dial) => isPlaintext(dial.firstBytes)),
			[false, true, true],
			'MSE/PE, then plaintext in the same dial; the redial goes straight to plaintext',
		);
		t.deepEqual(outcomes(), ['plaintext', 'plaintext']);
	});
});

test('prefer, against a client with MSE/PE: one connection, RC4 and plaintext offered, its choice taken', (t) => {
	testScheduler(t).run(({flush}) => {
		const {outcomes, dials} = dialTimes('prefer', 'speaks-mse', 1);
		flush();
		t.is(dials.length, 1);
		t.is(dials[0]?.provided, cryptoRc4 | cryptoPlaintext);
		t.deepEqual(outcomes(), ['rc4']);
	});
});

test('require: RC4 alone is offered, and a client without MSE/PE is never dialled in plaintext', (t) => {
	testScheduler(t).run(({flush}) => {
		const speaks = dialTimes('require', 'speaks-mse', 1);
		const without = dialTimes('require', 'plaintext-only', 2);
		flush();
		t.is(speaks.dials[0]?.provided, cryptoRc4);
		t.deepEqual(speaks.outcomes(), ['rc4']);
		t.deepEqual(
			without.dials.map((dial) => isPlaintext(dial.firstBytes)),
			[false, false],
		);
		t.deepEqual(without.outcomes(), [
			'error: the peer closed during the MSE handshake',
			'error: the peer closed during the MSE handshake',
		]);
	});
});

test('allow: plaintext first; a peer that hangs up on it without a byte is dialled with MSE/PE next time', (t) => {
	testScheduler(t).run(({flush}) => {
		const {outcomes, dials} = dialTimes('allow', 'requires-mse', 2);
		flush();
		t.deepEqual(
			dials.map((dial) => isPlaintext(dial.firstBytes)),
			[true, false],
		);
		// The first wire is handed out as it is, and its session would end when the peer hangs up.
		t.is(outcomes()[0], 'plaintext');
	});
});

test('off: the port as it is, plaintext only; the listener takes what each policy says', (t) => {
	testScheduler(t).run(({flush}) => {
		const {outcomes, dials} = dialTimes('off', 'plaintext-only', 1);
		flush();
		t.deepEqual(
			dials.map((dial) => isPlaintext(dial.firstBytes)),
			[true],
		);
		t.deepEqual(outcomes(), ['plaintext']);
	});
	t.deepEqual((['prefer', 'require', 'allow', 'off'] as const).map(incomingProtocolsFor), [
		{plaintext: true, encrypted: true},
		{plaintext: false, encrypted: true},
		{plaintext: true, encrypted: true},
		{plaintext: true, encrypted: false},
	]);
});
