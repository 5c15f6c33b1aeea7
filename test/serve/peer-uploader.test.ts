import test, {type ExecutionContext} from 'ava';
import type {PeerMessage} from '../../source/codec/messages.js';
import {PeerProtocolError} from '../../source/errors.js';
import {maxRequestLength, PeerUploader, type PeerUploaderOptions} from '../../source/serve/peer-uploader.js';

const kib16 = 16 * 1024;

/** Pieces 0 (256 KiB, so that only the 128 KiB limit refuses a long block) and 2 (20 000 bytes) we have; 1 we lack. */
const pieceSizes = [2 * maxRequestLength, 2 * kib16, 20_000];

/**
 * One input to the uploader, as a line: `request 0:0` (16 KiB unless `+length` says), `cancel 0:0`,
 * `interested`, `not-interested`, `keep-alive`, `have 2` (the peer's messages); `unchoke`,
 * `choke` (the choker's verdict); `block read` (the read in flight finishes); `drained`; `report`.
 * `socket full` and `socket has room` set what the socket answers from then on; `in memory 0:0`
 * puts a block in memory, so reading it gives it at once.
 */
type Input = string;

/**
 * What the uploader did in one step, in order: `unchoke`, `piece 0:0+16384`, `reject …`,
 * `read …`, `await drain`, `interest true`, `reported 123`; last, the protocol error it threw.
 */
type Output = Array<string | PeerProtocolError>;

function parseBlock(text: string): {index: number; begin: number; length: number} {
	const match = /^(\d+):(\d+)(?:\+(\d+))?$/.exec(text);
	if (!match) {
		throw new Error(`not a block: ${text}`);
	}

	return {index: Number(match[1]), begin: Number(match[2]), length: Number(match[3] ?? kib16)};
}

const blockName = (index: number, begin: number, length: number) => `${index}:${begin}+${length}`;

/** An uploader whose sink writes down every action; each `step` returns the actions of one input. */
function uploader(options: Partial<PeerUploaderOptions> = {}) {
	const done: Output = [];
	let full = false;
	const inMemory = new Set<string>();
	let reading: string | undefined;
	const stats = {interested: false, uploaded: 0, unreported: 0};
	const totals = {uploaded: 0};
	const machine = new PeerUploader(
		{
			pieceCount: pieceSizes.length,
			pieceSize: (index) => pieceSizes[index] ?? 0,
			have: (index) => index !== 1,
			maxQueuedRequests: 2,
			stats,
			totals,
			...options,
		},
		{
			send(message) {
				done.push(
					message.type === 'piece'
						? `piece ${blockName(message.index, message.begin, message.block.length)}`
						: message.type === 'reject'
							? `reject ${blockName(message.index, message.begin, message.length)}`
							: message.type,
				);
				return !full;
			},
			read(index, begin, length) {
				const name = blockName(index, begin, length);
				done.push(`read ${name}`);
				if (inMemory.has(name)) {
					return Buffer.alloc(length);
				}

				reading = name;
				return undefined;
			},
			awaitDrain: () => done.push('await drain'),
			interestChanged: () => done.push(`interest ${stats.interested}`),
		},
	);

	const apply = (input: Input): void => {
		const [word = '', ...rest] = input.split(' ');
		const argument = rest.join(' ');
		switch (word) {
			case 'request':
			case 'cancel':
				machine.receive({type: word, ...parseBlock(argument)});
				break;
			case 'interested':
			case 'not-interested':
			case 'keep-alive':
				machine.receive({type: word});
				break;
			case 'have':
				machine.receive({type: 'have', index: Number(argument)});
				break;
			case 'unchoke':
			case 'choke':
				machine.verdict(word === 'unchoke');
				break;
			case 'block': {
				const {length} = parseBlock(reading ?? '0:0+0');
				reading = undefined;
				machine.blockRead(Buffer.alloc(length));
				break;
			}

			case 'drained':
				machine.drained();
				break;
			case 'report':
				done.push(`reported ${machine.report()}`);
				break;
			case 'socket':
				full = argument === 'full';
				break;
			case 'in': {
				const {index, begin, length} = parseBlock(rest[1] ?? '');
				inMemory.add(blockName(index, begin, length));
				break;
			}

			default:
				throw new Error(`unknown input: ${input}`);
		}
	};

	return {
		machine,
		stats,
		totals,
		step(input: Input): Output {
			done.length = 0;
			try {
				apply(input);
			} catch (error) {
				if (error instanceof PeerProtocolError) {
					return [...done, error];
				}

				throw error;
			}

			machine.checkInvariant();
			return [...done];
		},
	};
}

/** Feeds the inputs one at a time, asserting each step's actions exactly. */
function run(t: ExecutionContext, steps: Array<[Input, Output]>, options: Partial<PeerUploaderOptions> = {}) {
	const served = uploader(options);
	for (const [position, [input, expected]] of steps.entries()) {
		t.deepEqual(served.step(input), expected, `step ${position}: ${input}`);
	}

	return served;
}

const b16 = `+${kib16}`;

test('a session starts choking: requests are dropped, not kept for the unchoke; a verdict that changes nothing sends nothing', (t) => {
	const {machine} = run(t, [
		['choke', []],
		['request 0:0', []],
		['request 2:0', []],
		['unchoke', ['unchoke']],
		['unchoke', []],
		['choke', ['choke']],
		['choke', []],
	]);
	t.true(machine.choking);
	t.is(machine.queued, 0);
});

test('unchoked, requests are read one at a time and served in the order they came', (t) => {
	const {stats, totals, machine} = run(t, [
		['unchoke', ['unchoke']],
		[`request 0:${kib16}`, [`read 0:${kib16}${b16}`]],
		['request 0:0', []],
		// Exactly to the end of the short last piece.
		['request 2:0+20000', []],
		['block read', [`piece 0:${kib16}${b16}`, `read 0:0${b16}`]],
		['block read', [`piece 0:0${b16}`, 'read 2:0+20000']],
		['block read', ['piece 2:0+20000']],
		['block read', []],
	]);
	t.is(stats.uploaded, 2 * kib16 + 20_000);
	t.is(stats.unreported, 2 * kib16 + 20_000);
	t.is(totals.uploaded, 2 * kib16 + 20_000);
	t.is(machine.queued, 0);
});

test('report hands over the bytes sent since the last report, once', (t) => {
	const {stats} = run(t, [
		['report', ['reported 0']],
		['unchoke', ['unchoke']],
		['request 2:0+100', ['read 2:0+100']],
		['block read', ['piece 2:0+100']],
		['request 2:100+50', ['read 2:100+50']],
		['block read', ['piece 2:100+50']],
		['report', ['reported 150']],
		['report', ['reported 0']],
		['request 2:0+10', ['read 2:0+10']],
		['block read', ['piece 2:0+10']],
		['report', ['reported 10']],
	]);
	t.deepEqual(stats, {interested: false, uploaded: 160, unreported: 0});
});

test('beyond maxQueuedRequests a request is dropped; the one being read does not count', (t) => {
	run(t, [
		['unchoke', ['unchoke']],
		['request 0:0', [`read 0:0${b16}`]],
		[`request 0:${kib16}`, []],
		['request 2:0', []],
		['request 2:16384+1000', []],
		['block read', [`piece 0:0${b16}`, `read 0:${kib16}${b16}`]],
		['block read', [`piece 0:${kib16}${b16}`, `read 2:0${b16}`]],
		['block read', [`piece 2:0${b16}`]],
	]);
});

test('a repeat of a queued block is answered by that one block; the block being read is no longer queued', (t) => {
	run(
		t,
		[
			['unchoke', ['unchoke']],
			['request 0:0', [`read 0:0${b16}`]],
			[`request 0:${kib16}`, []],
			[`request 0:${kib16}`, []],
			['request 2:0', []],
			[`request 0:${kib16}`, []],
			// Asked again while being read: a new request, served after the others.
			['request 0:0', []],
			['block read', [`piece 0:0${b16}`, `read 0:${kib16}${b16}`]],
			['block read', [`piece 0:${kib16}${b16}`, `read 2:0${b16}`]],
			['block read', [`piece 2:0${b16}`, `read 0:0${b16}`]],
			['block read', [`piece 0:0${b16}`]],
		],
		{fast: true, maxQueuedRequests: 10},
	);
});

test('a cancel removes its queued request; one of another length, or for the block being read, changes nothing', (t) => {
	run(t, [
		['unchoke', ['unchoke']],
		['request 0:0', [`read 0:0${b16}`]],
		[`request 0:${kib16}`, []],
		['request 2:0', []],
		[`cancel 0:${kib16}`, []],
		['cancel 2:0+100', []],
		['cancel 0:0', []],
		['block read', [`piece 0:0${b16}`, `read 2:0${b16}`]],
		['block read', [`piece 2:0${b16}`]],
	]);
});

test('a choke sends choke and discards the queued requests; a block read after it is not sent', (t) => {
	const {stats} = run(t, [
		['unchoke', ['unchoke']],
		['request 0:0', [`read 0:0${b16}`]],
		[`request 0:${kib16}`, []],
		['choke', ['choke']],
		['block read', []],
		['unchoke', ['unchoke']],
		['block read', []],
		['request 2:0', [`read 2:0${b16}`]],
	]);
	t.is(stats.uploaded, 0);
});

test('choked and unchoked again while a block is read: the block goes out', (t) => {
	run(t, [
		['unchoke', ['unchoke']],
		['request 0:0', [`read 0:0${b16}`]],
		['choke', ['choke']],
		['unchoke', ['unchoke']],
		['block read', [`piece 0:0${b16}`]],
	]);
});

test('back-pressure: once the socket is full nothing more goes out until it drains; a drain nobody waits for is not remembered', (t) => {
	run(t, [
		['unchoke', ['unchoke']],
		['drained', []],
		['socket full', []],
		['request 0:0', [`read 0:0${b16}`]],
		[`request 0:${kib16}`, []],
		['block read', [`piece 0:0${b16}`, 'await drain']],
		['request 2:0', []],
		['socket has room', []],
		['drained', [`read 0:${kib16}${b16}`]],
		['drained', []],
		['block read', [`piece 0:${kib16}${b16}`, `read 2:0${b16}`]],
		['block read', [`piece 2:0${b16}`]],
	]);
});

test('a block in memory goes out at once, without waiting for a turn; the socket still holds the next back', (t) => {
	run(t, [
		['in memory 0:0', []],
		[`in memory 0:${kib16}`, []],
		['unchoke', ['unchoke']],
		['request 0:0', [`read 0:0${b16}`, `piece 0:0${b16}`]],
		['request 2:0', [`read 2:0${b16}`]],
		[`request 0:${kib16}`, []],
		['block read', [`piece 2:0${b16}`, `read 0:${kib16}${b16}`, `piece 0:${kib16}${b16}`]],
		['socket full', []],
		['request 0:0', [`read 0:0${b16}`, `piece 0:0${b16}`, 'await drain']],
		[`request 0:${kib16}`, []],
		['drained', [`read 0:${kib16}${b16}`, `piece 0:${kib16}${b16}`, 'await drain']],
		['socket has room', []],
		['drained', []],
	]);
});

test('a choke while the socket is full: after the drain nothing is served', (t) => {
	run(t, [
		['unchoke', ['unchoke']],
		['socket full', []],
		['request 0:0', [`read 0:0${b16}`]],
		['block read', [`piece 0:0${b16}`, 'await drain']],
		[`request 0:${kib16}`, []],
		['choke', ['choke']],
		['drained', []],
		['unchoke', ['unchoke']],
		['request 2:0', [`read 2:0${b16}`]],
	]);
});

test('fast extension (BEP 6): requests while choking, over the cap, cancelled, queued at a choke or read after it are rejected', (t) => {
	run(
		t,
		[
			['request 0:0', [`reject 0:0${b16}`]],
			['unchoke', ['unchoke']],
			['request 0:0', [`read 0:0${b16}`]],
			[`request 0:${kib16}`, []],
			['request 2:0', []],
			['request 2:16384+1000', ['reject 2:16384+1000']],
			[`cancel 0:${kib16}`, [`reject 0:${kib16}${b16}`]],
			// Not queued: nothing to answer.
			[`cancel 0:${kib16}`, []],
			['request 2:16384+1000', []],
			['choke', ['choke', `reject 2:0${b16}`, 'reject 2:16384+1000']],
			['block read', [`reject 0:0${b16}`]],
		],
		{fast: true},
	);
});

test('a peer that asks for more than maxQueuedRequests blocks we refuse, without reading our answers, is a protocol error', (t) => {
	run(
		t,
		[
			['socket full', []],
			// Rejects while choking count, but only a request we would queue is refused for it.
			['request 0:0', [`reject 0:0${b16}`]],
			['request 0:0', [`reject 0:0${b16}`]],
			['request 0:0', [`reject 0:0${b16}`]],
			['unchoke', ['unchoke']],
			[
				'request 0:0',
				[new PeerProtocolError('asked for more than 2 blocks we refused, without reading our answers')],
			],
		],
		{fast: true},
	);
	run(
		t,
		[
			['unchoke', ['unchoke']],
			['socket full', []],
			['request 0:0', [`read 0:0${b16}`]],
			['request 2:0', []],
			['request 2:100', []],
			['request 2:200', ['reject 2:200+16384']],
			['request 2:300', ['reject 2:300+16384']],
			// A reject the socket takes starts the count again.
			['socket has room', []],
			['request 2:400', ['reject 2:400+16384']],
			['socket full', []],
			['request 2:500', ['reject 2:500+16384']],
			['request 2:600', ['reject 2:600+16384']],
			[
				'request 2:700',
				[
					'reject 2:700+16384',
					new PeerProtocolError('asked for more than 2 blocks we refused, without reading our answers'),
				],
			],
		],
		{fast: true},
	);
});

test('without the fast extension nothing is rejected, and the count of refusals never grows', (t) => {
	run(t, [
		['socket full', []],
		['request 0:0', []],
		['request 0:0', []],
		['request 0:0', []],
		['request 0:0', []],
		['unchoke', ['unchoke']],
		['request 0:0', [`read 0:0${b16}`]],
		['request 2:0', []],
		['request 2:100', []],
		['request 2:200', []],
		['request 2:300', []],
		['request 2:400', []],
		['cancel 2:0', []],
		['choke', ['choke']],
		['block read', []],
	]);
});

test('interest: stats.interested holds the change when the choker is told, once per change', (t) => {
	const {stats} = run(t, [
		['interested', ['interest true']],
		['interested', []],
		['not-interested', ['interest false']],
		['keep-alive', []],
		['not-interested', []],
		['interested', ['interest true']],
	]);
	t.true(stats.interested);
});

test('messages that are not serving’s change nothing', (t) => {
	run(t, [
		['unchoke', ['unchoke']],
		['have 2', []],
		['keep-alive', []],
		['request 0:0', [`read 0:0${b16}`]],
		['have 0', []],
		['block read', [`piece 0:0${b16}`]],
	]);
	const served = uploader();
	const messages: PeerMessage[] = [
		{type: 'choke'},
		{type: 'unchoke'},
		{type: 'piece', index: 0, begin: 0, block: Buffer.alloc(1)},
		{type: 'reject', index: 0, begin: 0, length: kib16},
		{type: 'have-all'},
		{type: 'port', port: 1},
	];
	for (const message of messages) {
		served.machine.receive(message);
		served.machine.checkInvariant();
	}

	t.true(served.machine.choking);
	t.deepEqual(served.step('report'), ['reported 0']);
});

for (const [title, input, reason, unchoked] of [
	['a piece we do not have', 'request 1:0', 'requested piece 1, which we do not have', true],
	['a piece beyond the torrent', 'request 3:0', 'requested piece 3, which we do not have', true],
	[
		'a block beyond the end of its piece',
		`request 2:${kib16}+${20_000 - kib16 + 1}`,
		'request beyond the piece (piece 2, offset 16384, 3617 bytes)',
		true,
	],
	[
		'a block longer than 128 KiB',
		`request 0:0+${maxRequestLength + 1}`,
		'request beyond the piece (piece 0, offset 0, 131073 bytes)',
		true,
	],
	['a block of length 0', 'request 0:0+0', 'request beyond the piece (piece 0, offset 0, 0 bytes)', true],
	['a piece we lack, while choking', 'request 1:0', 'requested piece 1, which we do not have', false],
] as const) {
	for (const fast of [false, true]) {
		test(`a request for ${title} is a protocol error, and nothing is read or sent (fast: ${fast})`, (t) => {
			// Not rejected under BEP 6 either: the peer is dropped.
			const unchoke: Array<[Input, Output]> = unchoked ? [['unchoke', ['unchoke']]] : [];
			run(t, [...unchoke, [input, [new PeerProtocolError(reason)]]], {fast});
		});
	}
}

test('a request of exactly 128 KiB inside its piece is served', (t) => {
	const {stats} = run(t, [
		['unchoke', ['unchoke']],
		[`request 0:${maxRequestLength}+${maxRequestLength}`, [`read 0:${maxRequestLength}+${maxRequestLength}`]],
		['block read', [`piece 0:${maxRequestLength}+${maxRequestLength}`]],
	]);
	t.is(stats.uploaded, maxRequestLength);
});
