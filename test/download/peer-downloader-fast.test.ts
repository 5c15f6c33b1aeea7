import test from 'ava';
import type {PeerMessage} from '../../source/codec/messages.js';
import {type PeerActivity, PeerDownloader} from '../../source/download/peer-downloader.js';
import {defaultWindowOptions} from '../../source/download/request-window.js';
import {checkedPicker} from '../helpers/checked-picker.js';

const kib16 = 16 * 1024;

/** Two pieces of two blocks; a downloader with a window of 2. */
function setup() {
	const picker = checkedPicker(() => 2 * kib16, 2, {maxBytesInFlight: 1 << 20, random: () => 0});
	const downloader = new PeerDownloader(
		'peer',
		picker,
		{...defaultWindowOptions, initialWindow: 2, minWindow: 2},
		0,
	);
	return {picker, downloader};
}

const requests = (activity: PeerActivity[]) =>
	activity
		.flatMap((item) => (item.type === 'send' ? item.messages : []))
		.filter((message) => message.type === 'request');

const receive = (downloader: PeerDownloader, message: PeerMessage) => downloader.receive(message, 1);

test('have-all (BEP 6) is a full bitfield: interest, then requests after the unchoke', (t) => {
	const {picker, downloader} = setup();
	const interest = receive(downloader, {type: 'have-all'});
	t.true(downloader.peerPieces.complete);
	t.deepEqual(
		interest.flatMap((item) => (item.type === 'send' ? item.messages : [])),
		[{type: 'interested'}],
	);
	t.is(requests(receive(downloader, {type: 'unchoke'})).length, 2);
	t.is(picker.pieceCount, 2);
});

test('have-none (BEP 6) leaves us not interested', (t) => {
	const {downloader} = setup();
	t.deepEqual(receive(downloader, {type: 'have-none'}), []);
	t.is(downloader.peerPieces.count, 0);
});

test('a reject (BEP 6) frees the block: it is asked for again, and nothing waits for it', (t) => {
	const {downloader} = setup();
	receive(downloader, {type: 'have-all'});
	const first = requests(receive(downloader, {type: 'unchoke'}));
	t.deepEqual(first, [
		{type: 'request', index: 0, begin: 0, length: kib16},
		{type: 'request', index: 0, begin: kib16, length: kib16},
	]);
	t.is(downloader.outstanding, 2);
	const again = requests(receive(downloader, {type: 'reject', index: 0, begin: kib16, length: kib16}));
	t.deepEqual(again, [{type: 'request', index: 0, begin: kib16, length: kib16}], 'the rejected block, first');
	t.is(downloader.outstanding, 2);
});

test('a reject after a choke is for a request already given up: no error, no new request', (t) => {
	const {downloader} = setup();
	receive(downloader, {type: 'have-all'});
	receive(downloader, {type: 'unchoke'});
	receive(downloader, {type: 'choke'});
	t.is(downloader.outstanding, 0);
	t.deepEqual(requests(receive(downloader, {type: 'reject', index: 0, begin: 0, length: kib16})), []);
	t.is(downloader.outstanding, 0);
});

for (const [title, reject] of [
	['past its piece’s end', {index: 0, begin: 2 * kib16, length: kib16}],
	['not on a block boundary', {index: 1, begin: 100, length: kib16}],
	['for a piece outside the torrent', {index: 2, begin: 0, length: kib16}],
	['of another length than we asked', {index: 1, begin: 0, length: 100}],
] as const) {
	test(`a reject ${title} is not ours: it is ignored, and no other block is taken for it`, (t) => {
		const picker = checkedPicker(() => 2 * kib16, 2, {maxBytesInFlight: 1 << 20, random: () => 0});
		const downloader = new PeerDownloader(
			'peer',
			picker,
			{...defaultWindowOptions, initialWindow: 4, minWindow: 4},
			0,
		);
		receive(downloader, {type: 'have-all'});
		t.is(requests(receive(downloader, {type: 'unchoke'})).length, 4, 'every block of both pieces asked for');
		// Block 0 of piece 1 has the key that a block past the end of piece 0 would compute.
		t.deepEqual(requests(receive(downloader, {type: 'reject', ...reject})), []);
		t.is(downloader.outstanding, 4);
		t.notThrows(() => receive(downloader, {type: 'piece', index: 1, begin: 0, block: Buffer.alloc(kib16)}));
		t.is(downloader.outstanding, 3);
	});
}
