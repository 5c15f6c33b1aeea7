import test from 'ava';
import {asyncScheduler, NEVER, of, Subject} from 'rxjs';
import {cryptoPlaintext, cryptoRc4} from '../../source/codec/mse-crypto.js';
import {encryptedStream, type ProtectedWire} from '../../source/peer/encrypted-stream.js';
import {acceptingProtocols, type IncomingProtocols} from '../../source/peer/incoming-protocol.js';
import type {IncomingPeer} from '../../source/peer/listener.js';
import {MseInitiator} from '../../source/peer/mse-initiator.js';
import type {PeerWire} from '../../source/peer/transport.js';
import {testScheduler} from '../helpers/marbles.js';

const infoHash = Buffer.alloc(20, 0x33);

/** A caller offering `provide` to a listener taking `protocols`: the protection each side ends with. */
function call(protocols: IncomingProtocols, provide: number) {
	const toCaller = new Subject<Buffer>();
	const toUs = new Subject<Buffer>();
	const end = (inbox: Subject<Buffer>, outbox: Subject<Buffer>): PeerWire => ({
		incoming$: inbox,
		send(bytes) {
			const copy = Buffer.from(bytes);
			asyncScheduler.schedule(() => outbox.next(copy), 1);
			return true;
		},
		drained$: NEVER,
	});
	const incoming: IncomingPeer = {
		address: {host: '10.0.0.1', port: 6881},
		wire$: of(end(toUs, toCaller)),
		refuse: () => undefined,
	};
	const result: {ours?: ProtectedWire; theirs?: ProtectedWire; error?: unknown} = {};
	of(incoming)
		.pipe(acceptingProtocols(protocols, [infoHash], {timeoutMs: 5000}))
		.subscribe((accepted) =>
			accepted.wire$.subscribe({
				next: (wire) => (result.ours = wire as ProtectedWire),
				error: (error) => (result.error = error),
			}),
		);
	encryptedStream(
		end(toCaller, toUs),
		new MseInitiator({infoHash, provide, initialPayload: Buffer.alloc(0)}),
		{
			timeoutMs: 5000,
		},
	).subscribe({next: (wire) => (result.theirs = wire), error: () => undefined});
	return result;
}

test('offered both, the caller gets plaintext, as libtorrent answers; offered RC4 alone, RC4', (t) => {
	testScheduler(t).run(({flush}) => {
		const both = call({plaintext: true, encrypted: true}, cryptoRc4 | cryptoPlaintext);
		const rc4 = call({plaintext: true, encrypted: true}, cryptoRc4);
		flush();
		t.is(both.ours?.protection, 'plaintext');
		t.is(both.theirs?.protection, 'plaintext');
		t.deepEqual(both.ours?.infoHash, infoHash);
		t.is(rc4.ours?.protection, 'rc4');
		t.is(rc4.theirs?.protection, 'rc4');
	});
});

test('plaintext not taken (encryption required): RC4 even when plaintext is offered too; MSE off refuses the caller', (t) => {
	testScheduler(t).run(({flush}) => {
		const required = call({plaintext: false, encrypted: true}, cryptoRc4 | cryptoPlaintext);
		const off = call({plaintext: true, encrypted: false}, cryptoRc4 | cryptoPlaintext);
		flush();
		t.is(required.ours?.protection, 'rc4');
		t.regex(String(off.error), /MSE\/PE is off/);
	});
});
