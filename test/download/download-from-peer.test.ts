import test from 'ava';
import {asyncScheduler, map, Subject, takeUntil} from 'rxjs';
import {Bitfield} from '../../source/codec/bitfield.js';
import type {PeerMessage} from '../../source/codec/messages.js';
import {downloadFromPeer} from '../../source/download/download-from-peer.js';
import {defaultWindowOptions} from '../../source/download/request-window.js';
import {PeerProtocolError} from '../../source/errors.js';
import {checkedPicker} from '../helpers/checked-picker.js';
import {endless} from '../helpers/endless.js';
import {testScheduler} from '../helpers/marbles.js';

const kib16 = 16 * 1024;
const block = Buffer.alloc(kib16, 1);
const everything = Buffer.from([0b1100_0000]);

function setup(initialWindow: number) {
	const picker = checkedPicker(() => 2 * kib16, 2, {maxBytesInFlight: 1 << 20, random: () => 0});
	const sent: Array<[number, PeerMessage[]]> = [];
	const stage = downloadFromPeer({
		peer: 'peer',
		picker,
		window: {
			...defaultWindowOptions,
			initialWindow,
			requestTimeoutMs: 50,
			idleTimeoutMs: 1000,
			keepAliveMs: 1000,
		},
		tickMs: 10,
		send: (messages) => sent.push([asyncScheduler.now(), messages]),
	});
	return {picker, sent, stage};
}

const request = (index: number, begin: number) => ({type: 'request', index, begin, length: kib16});

test('pipelines requests up to the window, completes pieces, and on choke returns what was outstanding', (t) => {
	const {picker, sent, stage} = setup(3);
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const messages = hot<PeerMessage>('-b-u---p-q-c', {
			b: {type: 'bitfield', bitfield: everything},
			u: {type: 'unchoke'},
			p: {type: 'piece', index: 0, begin: 0, block},
			q: {type: 'piece', index: 0, begin: kib16, block},
			c: {type: 'choke'},
		});
		const output = messages.pipe(
			stage,
			map((activity) => (activity.type === 'piece-complete' ? `complete ${activity.piece.index}` : activity)),
		);
		expectObservable(output, '^ 11ms !').toBe('---(uxy)-c-d', {
			u: {type: 'peer-unchoked', peer: 'peer'},
			x: {type: 'piece-started', peer: 'peer', index: 0},
			y: {type: 'piece-started', peer: 'peer', index: 1},
			c: 'complete 0',
			d: {type: 'peer-choked', peer: 'peer'},
		});
		expectSubscriptions(messages.subscriptions).toBe('^-----------!');
	});
	t.deepEqual(sent, [
		[1, [{type: 'interested'}]],
		[3, [request(0, 0), request(0, kib16), request(1, 0)]],
		// One block in, one more request out: a sliding window, not a batch.
		[7, [request(1, kib16)]],
	]);
	const all = new Bitfield(2);
	all.setAll();
	t.is(picker.pick(all)?.index, 1, 'the choked piece is back in the pool');
	t.is(picker.pick(all), undefined, 'the finished piece is not handed out again');
});

test('a peer that leaves requests unanswered errors after the request timeout, and its pieces return', (t) => {
	const {picker, stage} = setup(2);
	testScheduler(t).run(({hot, expectObservable}) => {
		const messages = hot<PeerMessage>('bu', {
			b: {type: 'bitfield', bitfield: everything},
			u: {type: 'unchoke'},
		});
		const output = messages.pipe(
			stage,
			map((activity) => activity.type),
		);
		// Requests go out at frame 1; the tick at 60 sees 59 ms without a block (> 50).
		expectObservable(output).toBe(
			'-(uv) 55ms #',
			{u: 'peer-unchoked', v: 'piece-started'},
			new PeerProtocolError('no block for 0 s'),
		);
	});
	const all = new Bitfield(2);
	all.setAll();
	t.is(picker.pick(all)?.index, 0);
});

test('a synchronous message source stops when the consumer lets go', (t) => {
	const {stage} = setup(3);
	const stop$ = new Subject<void>();
	const messages = endless((i): PeerMessage => {
		if (i === 3) {
			stop$.next();
		}

		return {type: 'keep-alive'};
	});
	messages.source$.pipe(stage, takeUntil(stop$)).subscribe();
	t.is(messages.emitted(), 4);
});
