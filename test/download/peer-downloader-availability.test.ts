import test from 'ava';
import type {PeerMessage} from '../../source/codec/messages.js';
import {PeerDownloader} from '../../source/download/peer-downloader.js';
import {PiecePicker} from '../../source/download/piece-picker.js';
import {defaultWindowOptions} from '../../source/download/request-window.js';
import {PeerProtocolError} from '../../source/errors.js';
import {checkedPicker} from '../helpers/checked-picker.js';

// What a peer has is said once: a bitfield, have-all or have-none (BEP 3, BEP 6), then haves.
// aria2 sends its whole bitfield again (or a have-all) instead of 20 haves or more, so a later one
// is taken when it only adds pieces; anything else that restates availability drops the peer,
// since each such message walks every piece.

const kib16 = 16 * 1024;

function setup(pieceCount = 10) {
	const options = {maxBytesInFlight: 1 << 20, random: () => 0};
	// The cost test's 100,000 pieces would be recounted after each of 100,000 haves: checked at the end instead.
	const picker =
		pieceCount > 1000
			? new PiecePicker(() => kib16, pieceCount, options)
			: checkedPicker(() => kib16, pieceCount, options);
	const downloader = new PeerDownloader('peer', picker, defaultWindowOptions, 0);
	const receive = (message: PeerMessage) => downloader.receive(message, 1);
	return {picker, downloader, receive};
}

/** A bitfield of 10 pieces with `pieces` set. */
function bitfield(...pieces: number[]): PeerMessage {
	const bytes = Buffer.alloc(2);
	for (const index of pieces) {
		bytes[index >> 3] = (bytes[index >> 3] ?? 0) | (0x80 >> (index & 7));
	}

	return {type: 'bitfield', bitfield: bytes};
}

const dropped = (receive: () => unknown, reason: RegExp) => {
	const error = (() => {
		try {
			receive();
		} catch (error) {
			return error;
		}

		return undefined;
	})();
	return error instanceof PeerProtocolError && reason.test(error.message);
};

for (const [first, second] of [
	['have-all', 'have-all'],
	['have-none', 'have-none'],
	['bitfield', 'have-none'],
	['have-all', 'have-none'],
] as const) {
	const message = (type: typeof first): PeerMessage => (type === 'bitfield' ? bitfield(1) : {type});
	test(`${second} after ${first} drops the peer`, (t) => {
		const {receive} = setup();
		receive(message(first));
		t.true(
			dropped(() => receive(message(second)), /availability/),
			`${second} after ${first}`,
		);
	});
}

test('have-none after a have drops the peer: the have said what it has', (t) => {
	const {receive} = setup();
	receive({type: 'have', index: 3});
	t.true(dropped(() => receive({type: 'have-none'}), /availability/));
});

test('the same bitfield twice drops the peer', (t) => {
	const {receive} = setup();
	receive(bitfield(1, 2));
	t.true(dropped(() => receive(bitfield(1, 2)), /adds no piece/));
});

test('a later bitfield that takes a piece back drops the peer', (t) => {
	const {receive} = setup();
	receive(bitfield(1, 2));
	t.true(dropped(() => receive(bitfield(1, 3)), /takes back/));
});

test('a later bitfield that adds pieces (aria2 sends one for 20 haves or more) is taken', (t) => {
	const {downloader, receive} = setup();
	receive(bitfield(1, 2));
	receive({type: 'have', index: 4});
	receive(bitfield(1, 2, 4, 9));
	t.is(downloader.peerPieces.count, 4);
	t.deepEqual(
		[1, 2, 4, 9].map((index) => downloader.peerPieces.has(index)),
		[true, true, true, true],
	);
});

test('have-none then a bitfield: the bitfield adds to nothing, and is taken', (t) => {
	const {downloader, receive} = setup();
	receive({type: 'have-none'});
	receive(bitfield(3));
	t.is(downloader.peerPieces.count, 1);
});

test('have-all after some haves or a bitfield is taken once (aria2 when it finishes), a second drops the peer', (t) => {
	const {downloader, receive} = setup();
	receive(bitfield(1));
	receive({type: 'have', index: 2});
	receive({type: 'have-all'});
	t.true(downloader.peerPieces.complete);
	t.true(dropped(() => receive({type: 'have-all'}), /adds no piece/));
});

test('a bitfield of the wrong size later is still a protocol error', (t) => {
	const {receive} = setup();
	receive(bitfield(1));
	t.true(dropped(() => receive({type: 'bitfield', bitfield: Buffer.alloc(3)}), /bitfield is 3 bytes/));
});

test('a later bitfield with spare bits set is a protocol error', (t) => {
	const {receive} = setup();
	receive(bitfield(1));
	t.true(dropped(() => receive({type: 'bitfield', bitfield: Buffer.from([0x40, 0xc1])}), /spare bits/));
});

test('at 100,000 pieces a stream of have-all costs one walk: the second message ends it', (t) => {
	const {picker, downloader, receive} = setup(100_000);
	receive({type: 'have-all'});
	t.true(downloader.peerPieces.complete);
	t.true(dropped(() => receive({type: 'have-all'}), /availability|adds no piece/));
	t.notThrows(() => picker.checkInvariant());
});
