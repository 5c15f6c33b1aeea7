import test from 'ava';
import {filter, map, NEVER, of, Subject, take, takeUntil, throwError, timer} from 'rxjs';
import {decodeMessage, type PeerMessage} from '../../source/codec/messages.js';
import {PeerProtocolError, StorageError} from '../../source/errors.js';
import {maxRequestLength, type ServeOptions, serveToPeer} from '../../source/serve/serve-to-peer.js';
import {endless} from '../helpers/endless.js';
import {testScheduler} from '../helpers/marbles.js';

const kib16 = 16 * 1024;

function payload(length: number, seed: number): Buffer {
	return Buffer.from(Array.from({length}, (_, offset) => (offset * 31 + seed * 7 + (offset >> 8)) & 0xff));
}

/** Pieces 0 (32 KiB) and 2 (20 000 bytes) we have; piece 1 we lack. */
const pieces = [payload(2 * kib16, 0), payload(2 * kib16, 1), payload(20_000, 2)];
/** The same, but piece 0 is 256 KiB: only the 128 KiB limit can refuse a 128 KiB + 1 block in it. */
const bigPieces = [payload(2 * maxRequestLength, 0), ...pieces.slice(1)];
const blockOf = (index: number, begin: number, length: number, held = pieces) =>
	Buffer.from((held[index] ?? Buffer.alloc(0)).subarray(begin, begin + length));

const request = (index: number, begin: number, length = kib16): PeerMessage => ({
	type: 'request',
	index,
	begin,
	length,
});
const cancel = (index: number, begin: number, length = kib16): PeerMessage => ({
	type: 'cancel',
	index,
	begin,
	length,
});

/**
 * What went out on the wire, one line per message: the 4-byte length prefix is checked and
 * stripped, and a piece message says whether its block holds exactly the bytes of our piece.
 */
function describeWire(bytes: Buffer, held = pieces): string {
	if (bytes.readUInt32BE(0) !== bytes.length - 4) {
		return `bad length prefix ${bytes.readUInt32BE(0)} for ${bytes.length - 4} bytes`;
	}

	const message = decodeMessage(bytes.subarray(4));
	if (message.type === 'reject') {
		return `reject ${message.index}:${message.begin}+${message.length}`;
	}

	if (message.type !== 'piece') {
		return message.type;
	}

	const {index, begin, block} = message;
	const right = block.equals(blockOf(index, begin, block.length, held));
	return `piece ${index}:${begin}+${block.length}${right ? '' : ' (wrong bytes)'}`;
}

type Setup = {
	/** Piece messages (as described) for which `send` reports a full socket. */
	full?: string[];
	/** Virtual milliseconds a `readBlock` takes; 0 answers synchronously. */
	readMs?: number;
	/** The torrent's pieces: `pieces` unless said. */
	held?: Buffer[];
};

/**
 * A serving stage whose `send` puts each message, described, on `wire$`, and whose
 * `interestChanged` puts the peer's new interest on `interest$`: a test asserts both with
 * `expectObservable`, called before the stage's so that they see what goes out at frame 0.
 */
function setup(overrides: Partial<ServeOptions> & Setup = {}) {
	const {full = [], readMs = 0, held = pieces, ...options} = overrides;
	const wire$ = new Subject<string>();
	const interest$ = new Subject<boolean>();
	const reads: string[] = [];
	const stats = {interested: false, uploaded: 0, unreported: 0};
	const totals = {uploaded: 0};
	const stage = serveToPeer({
		peer: 'peer',
		pieceCount: held.length,
		pieceSize: (index) => held[index]?.length ?? 0,
		have: (index) => index !== 1,
		readBlock(index, begin, length) {
			reads.push(`${index}:${begin}+${length}`);
			const block = blockOf(index, begin, length, held);
			return readMs === 0 ? of(block) : timer(readMs).pipe(map(() => block));
		},
		send(bytes) {
			const line = describeWire(bytes, held);
			wire$.next(line);
			return !full.includes(line);
		},
		drained$: NEVER,
		unchoked$: NEVER,
		stats,
		totals,
		interestChanged: () => interest$.next(stats.interested),
		maxQueuedRequests: 10,
		reportMs: 1000,
		...options,
	});
	return {stage, wire$, interest$, reads, stats, totals};
}

/** The wire's messages, by letter, for the diagrams below. */
const wire = {
	u: 'unchoke',
	c: 'choke',
	a: `piece 0:0+${kib16}`,
	b: `piece 0:${kib16}+${kib16}`,
	d: `piece 2:0+${kib16}`,
	e: 'piece 2:16384+1000',
	f: 'piece 2:0+20000',
	A: `reject 0:0+${kib16}`,
	B: `reject 0:${kib16}+${kib16}`,
	D: `reject 2:0+${kib16}`,
	E: 'reject 2:16384+1000',
};

const uploaded = (bytes: number) => ({type: 'uploaded', peer: 'peer', bytes});

test('nothing is served while choking: requests are dropped, not kept for the unchoke', (t) => {
	let served: ReturnType<typeof setup> | undefined;
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const unchoked$ = hot('f---t', {f: false, t: true});
		const messages = hot<PeerMessage>('-a-b', {a: request(0, 0), b: request(2, 0)});
		served = setup({unchoked$});
		// Already choking at the start: no choke message for the initial `false`.
		expectObservable(served.wire$).toBe('----u', wire);
		expectObservable(messages.pipe(served.stage), '^ 10ms !').toBe('');
		expectSubscriptions(messages.subscriptions).toBe('^ 10ms !');
		expectSubscriptions(unchoked$.subscriptions).toBe('^ 10ms !');
	});
	t.deepEqual(served?.reads, []);
	t.is(served?.stats.uploaded, 0);
});

test('an unchoke sends unchoke, then requests are served in order with the right bytes', (t) => {
	let served: ReturnType<typeof setup> | undefined;
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const unchoked$ = hot('-t', {t: true});
		const messages = hot<PeerMessage>('--abc', {
			a: request(0, kib16),
			b: request(0, 0),
			// Exactly to the end of the short last piece.
			c: request(2, 0, 20_000),
		});
		served = setup({unchoked$, readMs: 3});
		// One read at a time, first come first served: 2 → 5, 5 → 8, 8 → 11.
		expectObservable(served.wire$).toBe('-u---b--a--f', wire);
		expectObservable(messages.pipe(served.stage), '^ 1500ms !').toBe('1000ms u', {
			u: uploaded(2 * kib16 + 20_000),
		});
		expectSubscriptions(messages.subscriptions).toBe('^ 1500ms !');
		expectSubscriptions(unchoked$.subscriptions).toBe('^ 1500ms !');
	});
	t.is(served?.stats.uploaded, 2 * kib16 + 20_000);
	t.deepEqual(served?.reads, [`0:${kib16}+${kib16}`, `0:0+${kib16}`, '2:0+20000']);
});

test('a choke sends choke and discards the queued requests', (t) => {
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const unchoked$ = hot('t----f------t', {t: true, f: false});
		const drained$ = hot<void>('----------d');
		const messages = hot<PeerMessage>('-abc', {a: request(0, 0), b: request(0, kib16), c: request(2, 0)});
		// The first block fills the socket: b and c wait in the queue when the choke comes.
		const served = setup({unchoked$, drained$, full: [wire.a]});
		expectObservable(served.wire$).toBe('ua---c------u', wire);
		expectObservable(messages.pipe(served.stage), '^ 20ms !').toBe('');
		// Waited for from the full socket to the drain, which finds the queue empty.
		expectSubscriptions(drained$.subscriptions).toBe('-^--------!');
		expectSubscriptions(messages.subscriptions).toBe('^ 20ms !');
	});
});

test('a block still being read when we choke is not sent after the choke', (t) => {
	let served: ReturnType<typeof setup> | undefined;
	testScheduler(t).run(({hot, expectObservable}) => {
		const unchoked$ = hot('t--f', {t: true, f: false});
		const messages = hot<PeerMessage>('-a', {a: request(0, 0)});
		served = setup({unchoked$, readMs: 5});
		expectObservable(served.wire$).toBe('u--c', wire);
		expectObservable(messages.pipe(served.stage), '^ 20ms !').toBe('');
	});
	t.is(served?.stats.uploaded, 0);
});

test('a cancel removes a queued request, and one for a request not queued changes nothing', (t) => {
	let served: ReturnType<typeof setup> | undefined;
	testScheduler(t).run(({hot, expectObservable}) => {
		const unchoked$ = hot('t', {t: true});
		const messages = hot<PeerMessage>('-abcxy', {
			a: request(0, 0),
			b: request(0, kib16),
			c: request(2, 0),
			x: cancel(0, kib16),
			// Same piece and offset as c, another length: not c.
			y: cancel(2, 0, 100),
		});
		served = setup({unchoked$, readMs: 5});
		expectObservable(served.wire$).toBe('u-----a----d', wire);
		expectObservable(messages.pipe(served.stage), '^ 30ms !').toBe('');
	});
	t.deepEqual(served?.reads, [`0:0+${kib16}`, `2:0+${kib16}`]);
});

for (const [title, message, reason, unchoked] of [
	['a piece we do not have', request(1, 0), 'requested piece 1, which we do not have', true],
	['a piece beyond the torrent', request(3, 0), 'requested piece 3, which we do not have', true],
	[
		'a block beyond the end of its piece',
		request(2, kib16, 20_000 - kib16 + 1),
		'request beyond the piece (piece 2, offset 16384, 3617 bytes)',
		true,
	],
	[
		'a block longer than 128 KiB',
		request(0, 0, maxRequestLength + 1),
		'request beyond the piece (piece 0, offset 0, 131073 bytes)',
		true,
	],
	['a block of length 0', request(0, 0, 0), 'request beyond the piece (piece 0, offset 0, 0 bytes)', true],
	['a piece we lack, while choking', request(1, 0), 'requested piece 1, which we do not have', false],
] as const) {
	test(`a request for ${title} errors with PeerProtocolError`, (t) => {
		let served: ReturnType<typeof setup> | undefined;
		testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
			const unchoked$ = hot('u', {u: unchoked});
			const messages = hot<PeerMessage>('-a--', {a: message});
			served = setup({unchoked$, held: bigPieces});
			expectObservable(served.wire$).toBe(unchoked ? 'u' : '', wire);
			expectObservable(messages.pipe(served.stage)).toBe('-#', undefined, new PeerProtocolError(reason));
			expectSubscriptions(messages.subscriptions).toBe('^!');
			expectSubscriptions(unchoked$.subscriptions).toBe('^!');
		});
		t.deepEqual(served?.reads, []);
	});
}

test('a protocol error ends the stage after a report of what was sent', (t) => {
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const unchoked$ = hot('t', {t: true});
		const messages = hot<PeerMessage>('-a-b', {a: request(0, 0), b: request(1, 0)});
		const served = setup({unchoked$});
		expectObservable(served.wire$).toBe('ua', wire);
		expectObservable(messages.pipe(served.stage)).toBe(
			'---(u#)',
			{u: uploaded(kib16)},
			new PeerProtocolError('requested piece 1, which we do not have'),
		);
		expectSubscriptions(messages.subscriptions).toBe('^--!');
		expectSubscriptions(unchoked$.subscriptions).toBe('^--!');
	});
});

test('a request of exactly 128 KiB inside its piece is served', (t) => {
	let served: ReturnType<typeof setup> | undefined;
	testScheduler(t).run(({hot, expectObservable}) => {
		const unchoked$ = hot('u', {u: true});
		const messages = hot<PeerMessage>('-a', {a: request(0, maxRequestLength, maxRequestLength)});
		served = setup({unchoked$, held: bigPieces});
		expectObservable(served.wire$).toBe('uz', {
			...wire,
			z: `piece 0:${maxRequestLength}+${maxRequestLength}`,
		});
		expectObservable(messages.pipe(served.stage), '^ 1000ms !').toBe('1000ms u', {
			u: uploaded(maxRequestLength),
		});
	});
	t.is(served?.stats.uploaded, maxRequestLength);
});

test('requests beyond maxQueuedRequests are dropped: not served, and no error', (t) => {
	testScheduler(t).run(({hot, expectObservable}) => {
		const unchoked$ = hot('t', {t: true});
		// a is being read at once; b and c fill the queue of 2; d finds it full.
		const messages = hot<PeerMessage>('-abcd', {
			a: request(0, 0),
			b: request(0, kib16),
			c: request(2, 0),
			d: request(2, kib16, 1000),
		});
		const served = setup({unchoked$, readMs: 5, maxQueuedRequests: 2});
		expectObservable(served.wire$).toBe('u-----a----b----d', wire);
		expectObservable(messages.pipe(served.stage), '^ 50ms !').toBe('');
	});
});

const allReads = [`0:0+${kib16}`, `0:${kib16}+${kib16}`, `2:0+${kib16}`, '2:16384+1000'];
for (const [path, readMs, sent, drainWaits, reads] of [
	['readBlock answering at once', 0, 'ua-----(bd)--e', ['-^-----!', '-------^-----!'], allReads],
	['readBlock taking 1 ms', 1, 'u-a-----bd----e', ['--^----!', '---------^---!'], allReads],
	['peekBlock', 0, 'ua-----(bd)--e', ['-^-----!', '-------^-----!'], []],
] as const) {
	test(`back-pressure (${path}): once send reports a full socket nothing more goes out until drained$`, (t) => {
		let served: ReturnType<typeof setup> | undefined;
		testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
			const unchoked$ = hot('t', {t: true});
			const drained$ = hot<void>('d------d-----d');
			const messages = hot<PeerMessage>('-(abcd)', {
				a: request(0, 0),
				b: request(0, kib16),
				c: request(2, 0),
				d: request(2, kib16, 1000),
			});
			served = setup({
				unchoked$,
				drained$,
				readMs,
				full: [wire.a, wire.d],
				...(path === 'peekBlock' ? {peekBlock: blockOf} : {}),
			});
			expectObservable(served.wire$).toBe(sent, wire);
			expectObservable(messages.pipe(served.stage), '^ 20ms !').toBe('');
			// The drain at 0 comes before anyone waits for it and is not remembered; each wait takes one.
			expectSubscriptions(drained$.subscriptions).toBe([...drainWaits]);
		});
		t.deepEqual(served?.reads, [...reads]);
	});
}

test('peekBlock serves a block in memory at once; readBlock reads the others', (t) => {
	let served: ReturnType<typeof setup> | undefined;
	const peeks: string[] = [];
	testScheduler(t).run(({hot, expectObservable}) => {
		const unchoked$ = hot('t', {t: true});
		const messages = hot<PeerMessage>('-(adb)', {a: request(0, 0), d: request(2, 0), b: request(0, kib16)});
		served = setup({
			unchoked$,
			readMs: 4,
			// Only piece 0 is in memory.
			peekBlock(index, begin, length) {
				peeks.push(`${index}:${begin}+${length}`);
				return index === 0 ? blockOf(index, begin, length) : undefined;
			},
		});
		expectObservable(served.wire$).toBe('ua---(db)', wire);
		expectObservable(messages.pipe(served.stage), '^ 20ms !').toBe('');
	});
	t.deepEqual(peeks, [`0:0+${kib16}`, `2:0+${kib16}`, `0:${kib16}+${kib16}`]);
	t.deepEqual(served?.reads, [`2:0+${kib16}`]);
});

test('interested and not-interested update stats.interested and call interestChanged once per change', (t) => {
	let served: ReturnType<typeof setup> | undefined;
	testScheduler(t).run(({hot, expectObservable}) => {
		const messages = hot<PeerMessage>('-iinkni', {
			i: {type: 'interested'},
			n: {type: 'not-interested'},
			k: {type: 'keep-alive'},
		});
		served = setup();
		expectObservable(served.wire$).toBe('');
		// The stats already hold the new interest when the choker is told.
		expectObservable(served.interest$).toBe('-t-f--t', {t: true, f: false});
		expectObservable(messages.pipe(served.stage), '^ 10ms !').toBe('');
	});
	t.true(served?.stats.interested);
});

test('reports uploaded bytes once per period, nothing for a period without sends; stats.uploaded counts them all', (t) => {
	let served: ReturnType<typeof setup> | undefined;
	testScheduler(t).run(({hot, expectObservable}) => {
		const unchoked$ = hot('t', {t: true});
		const messages = hot<PeerMessage>('10ms a 9ms f 229ms z', {
			a: request(0, 0),
			f: request(2, 0, 20_000),
			z: request(0, kib16, 100),
		});
		served = setup({unchoked$, reportMs: 100});
		expectObservable(served.wire$).toBe('u 9ms a 9ms f 229ms z', {...wire, z: `piece 0:${kib16}+100`});
		expectObservable(messages.pipe(served.stage), '^ 350ms !').toBe('100ms u 199ms v', {
			u: uploaded(kib16 + 20_000),
			v: uploaded(100),
		});
	});
	t.is(served?.stats.uploaded, kib16 + 20_000 + 100);
});

test('unsubscribing tears down the messages, the verdicts and a pending drain; completion completes', (t) => {
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const unchoked$ = hot('t', {t: true});
		const drained$ = hot<void>('');
		const messages = hot<PeerMessage>('-a', {a: request(0, 0)});
		const served = setup({unchoked$, drained$, full: [wire.a]});
		expectObservable(served.wire$).toBe('ua', wire);
		expectObservable(messages.pipe(served.stage), '^ 50ms !').toBe('');
		expectSubscriptions(messages.subscriptions).toBe('^ 50ms !');
		expectSubscriptions(unchoked$.subscriptions).toBe('^ 50ms !');
		expectSubscriptions(drained$.subscriptions).toBe('-^ 49ms !');
	});
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const unchoked$ = hot<boolean>('t', {t: true});
		const messages = hot<PeerMessage>('-a--|', {a: {type: 'interested'}});
		const served = setup({unchoked$});
		expectObservable(served.wire$).toBe('u', wire);
		expectObservable(messages.pipe(served.stage)).toBe('----|');
		expectSubscriptions(messages.subscriptions).toBe('^---!');
		expectSubscriptions(unchoked$.subscriptions).toBe('^---!');
	});
});

test('unsubscribing cancels a read in flight; the next read starts once the last one has finished', (t) => {
	testScheduler(t).run(({hot, cold, expectObservable, expectSubscriptions}) => {
		const unchoked$ = hot('t', {t: true});
		const messages = hot<PeerMessage>('-ab', {a: request(0, 0), b: request(2, 0)});
		const read0 = cold('---a|', {a: blockOf(0, 0, kib16)});
		const read2 = cold('---d|', {d: blockOf(2, 0, kib16)});
		const served = setup({unchoked$, readBlock: (index) => (index === 0 ? read0 : read2)});
		expectObservable(served.wire$).toBe('u---a', wire);
		expectObservable(messages.pipe(served.stage), '^ 5ms !').toBe('');
		expectSubscriptions(read0.subscriptions).toBe('-^---!');
		expectSubscriptions(read2.subscriptions).toBe('----^-!');
	});
});

test('bytes sent since the last report are reported when the session ends, and counted in the totals', (t) => {
	let served: ReturnType<typeof setup> | undefined;
	testScheduler(t).run(({hot, expectObservable}) => {
		const unchoked$ = hot('t', {t: true});
		const messages = hot<PeerMessage>('-a--|', {a: request(0, 0)});
		served = setup({unchoked$, reportMs: 1000});
		expectObservable(served.wire$).toBe('ua', wire);
		expectObservable(messages.pipe(served.stage)).toBe('----(u|)', {u: uploaded(kib16)});
	});
	t.is(served?.totals.uploaded, kib16);
});

test('the messages erroring ends the stage with that error, after a report of what was sent', (t) => {
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const unchoked$ = hot('t', {t: true});
		const messages = hot<PeerMessage>('-a--#', {a: request(0, 0)}, new Error('connection reset'));
		const served = setup({unchoked$});
		expectObservable(served.wire$).toBe('ua', wire);
		expectObservable(messages.pipe(served.stage)).toBe(
			'----(u#)',
			{u: uploaded(kib16)},
			new Error('connection reset'),
		);
		expectSubscriptions(messages.subscriptions).toBe('^---!');
		expectSubscriptions(unchoked$.subscriptions).toBe('^---!');
	});
});

test('a block that cannot be read ends the stage with the read error', (t) => {
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const unchoked$ = hot('t', {t: true});
		const messages = hot<PeerMessage>('-a-b', {a: request(0, 0), b: request(2, 0)});
		const served = setup({
			unchoked$,
			readBlock: (index) =>
				index === 2 ? throwError(() => new StorageError('disk gone')) : of(blockOf(0, 0, kib16)),
		});
		expectObservable(served.wire$).toBe('ua', wire);
		expectObservable(messages.pipe(served.stage)).toBe('---#', undefined, new StorageError('disk gone'));
		expectSubscriptions(messages.subscriptions).toBe('^--!');
		expectSubscriptions(unchoked$.subscriptions).toBe('^--!');
	});
});

test('fast extension (BEP 6): requests while choking, over the cap, cancelled or queued at a choke are rejected', (t) => {
	testScheduler(t).run(({hot, expectObservable}) => {
		const unchoked$ = hot('---t-------f', {t: true, f: false});
		const drained$ = hot<void>('-----------------d');
		const messages = hot<PeerMessage>('-a--bcdex-g', {
			// Before the unchoke.
			a: request(0, 0),
			// b fills the socket; c and d queue (the cap is 2); e finds the queue full.
			b: request(0, 0),
			c: request(0, kib16),
			d: request(2, 0),
			e: request(2, kib16, 1000),
			// c is cancelled while queued.
			x: cancel(0, kib16),
			// g queues behind d, and both are pending when the choke comes.
			g: request(2, kib16, 1000),
		});
		const served = setup({unchoked$, drained$, fast: true, maxQueuedRequests: 2, full: [wire.a]});
		expectObservable(served.wire$).toBe('-A-ua--EB--(cDE)', wire);
		expectObservable(messages.pipe(served.stage), '^ 30ms !').toBe('');
	});
});

test('fast extension (BEP 6): a block whose read finishes after a choke is rejected, not sent', (t) => {
	testScheduler(t).run(({hot, expectObservable}) => {
		const unchoked$ = hot('t--f', {t: true, f: false});
		const messages = hot<PeerMessage>('-a', {a: request(0, 0)});
		const served = setup({unchoked$, readMs: 5, fast: true});
		expectObservable(served.wire$).toBe('u--c--A', wire);
		expectObservable(messages.pipe(served.stage), '^ 20ms !').toBe('');
	});
});

test('fast extension (BEP 6): a peer that asks for more than maxQueuedRequests blocks we refused, without reading our answers, errors', (t) => {
	testScheduler(t).run(({hot, expectObservable, expectSubscriptions}) => {
		const unchoked$ = hot('----t', {t: true});
		// Every reject finds the socket full; the request after the unchoke is one too many.
		const messages = hot<PeerMessage>('-aaa-d', {a: request(0, 0), d: request(2, 0)});
		const served = setup({unchoked$, fast: true, maxQueuedRequests: 2, full: [wire.A]});
		expectObservable(served.wire$).toBe('-AAAu', wire);
		expectObservable(messages.pipe(served.stage)).toBe(
			'-----#',
			undefined,
			new PeerProtocolError('asked for more than 2 blocks we refused, without reading our answers'),
		);
		expectSubscriptions(messages.subscriptions).toBe('^----!');
		expectSubscriptions(unchoked$.subscriptions).toBe('^----!');
	});
});

test('without the fast extension nothing is rejected: the same requests are dropped silently', (t) => {
	testScheduler(t).run(({hot, expectObservable}) => {
		const unchoked$ = hot('---t---f', {t: true, f: false});
		const messages = hot<PeerMessage>('-a-----', {a: request(0, 0)});
		const served = setup({unchoked$, readMs: 10});
		expectObservable(served.wire$).toBe('---u---c', wire);
		expectObservable(messages.pipe(served.stage), '^ 30ms !').toBe('');
	});
});

test('a repeat of a queued request is answered by the one block', (t) => {
	testScheduler(t).run(({hot, expectObservable}) => {
		const unchoked$ = hot('t', {t: true});
		const messages = hot<PeerMessage>('-abbdb', {a: request(0, 0), b: request(0, kib16), d: request(2, 0)});
		const served = setup({unchoked$, readMs: 10, fast: true});
		expectObservable(served.wire$).toBe('u 10ms a 9ms b 9ms d', wire);
		expectObservable(messages.pipe(served.stage), '^ 40ms !').toBe('');
	});
});

test('a synchronous message source stops when the consumer lets go', (t) => {
	const stop$ = new Subject<void>();
	const messages = endless((i): PeerMessage => {
		if (i === 3) {
			stop$.next();
		}

		return {type: 'keep-alive'};
	});
	const {stage} = setup();
	messages.source$.pipe(stage, takeUntil(stop$)).subscribe();
	t.is(messages.emitted(), 4);
});

test('an endless synchronous source of requests stops once the first block has gone out', (t) => {
	const messages = endless((i): PeerMessage => request(i % 2 === 0 ? 0 : 2, 0));
	const served = setup({unchoked$: of(true)});
	const firstBlock$ = served.wire$.pipe(
		filter((line) => line.startsWith('piece')),
		take(1),
	);
	const lines: string[] = [];
	served.wire$.subscribe((line) => lines.push(line));
	messages.source$.pipe(served.stage, takeUntil(firstBlock$)).subscribe();
	t.is(messages.emitted(), 1);
	t.deepEqual(lines, ['unchoke', wire.a]);
});

test('a drain serves a long queue of blocks read at once, without a stack frame per block', (t) => {
	const count = 20_000;
	const drained$ = new Subject<void>();
	let full = true;
	let pieceCount = 0;
	const served = setup({
		pieceCount: count,
		pieceSize: () => kib16,
		have: () => true,
		maxQueuedRequests: count,
		readBlock: (_index, _begin, length) => of(Buffer.alloc(length)),
		unchoked$: of(true),
		drained$,
		send(bytes) {
			if (bytes.readUInt8(4) === 7) {
				pieceCount++;
			}

			return !full;
		},
	});
	const errors: unknown[] = [];
	const messages$ = new Subject<PeerMessage>();
	const subscription = messages$
		.pipe(served.stage)
		.subscribe({error: (error: unknown) => errors.push(error)});
	for (let index = 0; index < count; index++) {
		messages$.next(request(index, 0));
	}

	t.is(pieceCount, 1);
	full = false;
	drained$.next();
	subscription.unsubscribe();
	t.deepEqual(errors, []);
	t.is(pieceCount, count);
});

test('cancels are keyed by block: 2,000 of them among 2,000 queued requests each touch one, and each owes one reject', (t) => {
	const count = 2000;
	let touched = 0;
	// Every field read of a queued request is counted: a cancel that scans the queue reads them all.
	const counted = (message: PeerMessage): PeerMessage =>
		new Proxy(message, {
			get(target, key) {
				touched++;
				return Reflect.get(target, key);
			},
		});
	const lines: string[] = [];
	const messages$ = new Subject<PeerMessage>();
	const {stage} = setup({
		fast: true,
		pieceCount: count,
		pieceSize: () => 2 * kib16,
		have: () => true,
		maxQueuedRequests: count,
		readBlock: (_index, _begin, length) => of(Buffer.alloc(length)),
		unchoked$: of(true),
		// The first block fills the socket, and it never drains: the rest stay queued.
		send(bytes) {
			const message = decodeMessage(bytes.subarray(4));
			lines.push(
				message.type === 'reject'
					? `reject ${message.index}:${message.begin}+${message.length}`
					: message.type,
			);
			return message.type !== 'piece';
		},
	});
	const subscription = messages$.pipe(stage).subscribe({error: (error: unknown) => t.fail(String(error))});
	for (let index = 0; index <= count; index++) {
		messages$.next(counted(request(index % count, index < count ? 0 : kib16)));
	}

	t.deepEqual(lines.slice(0, 2), ['unchoke', 'piece']);
	lines.length = 0;
	touched = 0;
	// Same piece and offset, another length: not the queued request.
	messages$.next(cancel(5, 0, 100));
	for (let index = count - 1; index >= 1; index--) {
		messages$.next(cancel(index, 0));
	}

	// The second block of piece 0 is the last one queued.
	messages$.next(cancel(0, kib16));
	subscription.unsubscribe();
	const expected = Array.from({length: count - 1}, (_, i) => `reject ${count - 1 - i}:0+${kib16}`);
	t.deepEqual(lines, [...expected, `reject 0:${kib16}+${kib16}`]);
	t.true(touched < 10 * count, `${touched} reads of queued requests for ${count} cancels`);
});
