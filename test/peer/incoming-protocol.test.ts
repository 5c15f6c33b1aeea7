import test from 'ava';
import {asyncScheduler, NEVER, of, Subject} from 'rxjs';
import {cryptoPlaintext, cryptoRc4} from '../../source/codec/mse-crypto.js';
import {encryptedStream, type ProtectedWire} from '../../source/peer/encrypted-stream.js';
import {acceptingProtocols, type IncomingProtocols} from '../../source/peer/incoming-protocol.js';
import type {IncomingPeer} from '../../source/peer/listener.js';
import {MseInitiator} from '../../source/peer/mse-initiator.js';
import {testScheduler} from '../helpers/marbles.js';
import {oneMillisecondApart} from '../helpers/virtual-wire.js';

const infoHash = Buffer.alloc(20, 0x33);

/** A caller offering `provide` to a listener taking `protocols`: the protection each side ends with. */
function call(protocols: IncomingProtocols, provide: number) {
	const toCaller = new Subject<Buffer>();
	const toUs = new Subject<Buffer>();
	const end = oneMillisecondApart;
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

/**
 * `count` callers whose first bytes (an MSE/PE key) arrive `every` virtual ms, from `at` on:
 * how many we answered, and why the others were turned away.
 */
function flood(accepting: ReturnType<typeof acceptingProtocols>, count: number, at: number, every = 0) {
	const tally = {answered: 0, turnedAway: [] as string[]};
	const key = new MseInitiator({infoHash, provide: cryptoRc4, initialPayload: Buffer.alloc(0)}).start();
	const callers = Array.from({length: count}, (_, index): IncomingPeer => {
		const incoming$ = new Subject<Buffer>();
		asyncScheduler.schedule(() => incoming$.next(Buffer.from(key)), at + index * every);
		return {
			address: {host: '10.0.0.2', port: 1000 + index},
			wire$: of({
				incoming$,
				send: () => {
					tally.answered++;
					return true;
				},
				drained$: NEVER,
			}),
			refuse: () => undefined,
		};
	});
	of(...callers)
		.pipe(accepting)
		.subscribe((accepted) =>
			accepted.wire$.subscribe({error: (error: Error) => tally.turnedAway.push(error.message)}),
		);
	return tally;
}

test('a flood of MSE/PE callers gets 50 key exchanges at once and 100 a second after: the rest are turned away before any', (t) => {
	testScheduler(t).run(({flush}) => {
		const accepting = acceptingProtocols({plaintext: true, encrypted: true}, [infoHash], {
			// Longer than the whole flood: each connection must meet the budget, not the time-out.
			timeoutMs: 60_000,
		});
		const burst = flood(accepting, 300, 0);
		// Then one caller a millisecond for two seconds: a thousand a second.
		const sustained = flood(accepting, 2000, 10_000, 1);
		flush();
		const turnedAway = (reasons: string[]) =>
			reasons.filter((reason) => /more than 100 MSE\/PE callers a second/.test(reason)).length;
		t.is(burst.answered, 50, 'the burst');
		t.is(turnedAway(burst.turnedAway), 250);
		// The bucket is full again after the quiet spell: 50, then 100 a second for two seconds.
		t.true(sustained.answered >= 249 && sustained.answered <= 251, `${sustained.answered} answered`);
		t.is(turnedAway(sustained.turnedAway), 2000 - sustained.answered);
	});
});
