import test from 'ava';
import {EMPTY, from, ignoreElements, type Observable} from 'rxjs';
import {encodeBencode} from '../../source/codec/bencode.js';
import {encodeCompactPeer} from '../../source/codec/compact-peers.js';
import {ourExtensions} from '../../source/codec/extension-protocol.js';
import type {PeerMessage} from '../../source/codec/messages.js';
import {PeerProtocolError} from '../../source/errors.js';
import {answerExtensions, type ExtensionOptions} from '../../source/session/extension-messages.js';
import {testScheduler} from '../helpers/marbles.js';

const peer = '1.2.3.4:6881';
const handshake = (client: string): PeerMessage => ({
	type: 'extended',
	extension: 0,
	payload: encodeBencode({m: {ut_metadata: 3, ut_pex: 4}, v: client}),
});
const pex = (first: number, count: number): PeerMessage => ({
	type: 'extended',
	extension: ourExtensions.ut_pex,
	payload: encodeBencode({
		added: Buffer.concat(
			Array.from({length: count}, (_, index) =>
				encodeCompactPeer({host: `5.6.${(first + index) >> 8}.${(first + index) & 255}`, port: 6881}),
			),
		),
	}),
});

const options = (overrides: Partial<ExtensionOptions> = {}): ExtensionOptions => ({
	peer,
	send: () => undefined,
	maxMetadataRequests: 1000,
	...overrides,
});

test('messages that need no answer cost no inner subscription each', (t) => {
	const subscribe = EMPTY.subscribe;
	let subscriptions = 0;
	Object.defineProperty(EMPTY, 'subscribe', {
		configurable: true,
		value(this: Observable<never>, ...parameters: Parameters<typeof subscribe>) {
			subscriptions++;
			return subscribe.apply(this, parameters);
		},
	});
	try {
		const messages: PeerMessage[] = Array.from({length: 2000}, (_, index) =>
			index % 2 ? {type: 'have', index} : {type: 'extended', extension: 77, payload: Buffer.alloc(0)},
		);
		from(messages).pipe(answerExtensions(options()), ignoreElements()).subscribe();
	} finally {
		Reflect.deleteProperty(EMPTY, 'subscribe');
	}

	t.true(subscriptions <= 2, `${subscriptions} subscriptions`);
});

test('an extended handshake sent again is an event only when the client changed; a flood of them ends the session', (t) => {
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const again = hot<PeerMessage>('a-a-b 10s a', {a: handshake('Alpha 1.0'), b: handshake('Alpha 1.1')});
		expectObservable(again.pipe(answerExtensions(options())), '^ 11s !').toBe('i---j 10s k', {
			i: {type: 'peer-identified', peer, client: 'Alpha 1.0'},
			j: {type: 'peer-identified', peer, client: 'Alpha 1.1'},
			k: {type: 'peer-identified', peer, client: 'Alpha 1.0'},
		});
		expectSubscriptions(again.subscriptions).toBe('^ 11s !');
		const flood = hot<PeerMessage>('aaaaaaaaaaaaaaaaaaaa', {a: handshake('Alpha 1.0')});
		expectObservable(flood.pipe(answerExtensions(options()), ignoreElements())).toBe(
			'-----#',
			undefined,
			new PeerProtocolError('sent extended handshakes faster than 1 every 10 s'),
		);
		// The error lets go of the messages: the flood is not read on after the verdict.
		expectSubscriptions(flood.subscriptions).toBe('^----!');
	});
});

test('PEX from one peer is used at most once a minute, and names 50 peers at most', (t) => {
	testScheduler(t).run(({hot, expectObservable}) => {
		const messages = hot<PeerMessage>('a-b 10s c 50s d', {
			a: handshake('Alpha 1.0'),
			b: pex(0, 200),
			c: pex(300, 5),
			d: pex(400, 1),
		});
		const pexOptions = options({pex: {dialable: () => [], intervalMs: 60_000}});
		const found = (first: number, count: number) => ({
			type: 'peers-found',
			source: 'pex',
			from: peer,
			peers: Array.from({length: count}, (_, index) => ({
				host: `5.6.${(first + index) >> 8}.${(first + index) & 255}`,
				port: 6881,
			})),
			count,
		});
		expectObservable(messages.pipe(answerExtensions(pexOptions)), '^ 70s !').toBe('i-b 10s - 50s d', {
			i: {type: 'peer-identified', peer, client: 'Alpha 1.0'},
			b: found(0, 50),
			d: found(400, 1),
		});
	});
});
