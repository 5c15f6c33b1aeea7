import test from 'ava';
import type {PeerMessage} from '../../source/codec/messages.js';
import {type PeerActivity, PeerDownloader} from '../../source/download/peer-downloader.js';
import {PieceProgress} from '../../source/download/piece-progress.js';
import {PieceSignals} from '../../source/download/piece-signals.js';
import {defaultWindowOptions} from '../../source/download/request-window.js';
import {checkedPicker} from '../helpers/checked-picker.js';

const kib16 = 16 * 1024;
const blocksPerPiece = 4;

type Request = Extract<PeerMessage, {type: 'request' | 'cancel'}>;

/**
 * A picker of `pieceCount` pieces of four blocks and downloaders wired to it as
 * `downloadFromPeer` wires them: every downloader hears of blocks arriving in endgame, and
 * what each sends is collected per peer.
 */
function swarm(pieceCount: number, windowSize = 8) {
	const picker = checkedPicker(() => blocksPerPiece * kib16, pieceCount, {
		maxBytesInFlight: 1 << 30,
		random: () => 0,
	});
	const peers = new Map<string, PeerDownloader>();
	const sent = new Map<string, PeerMessage[]>();
	const completed: Array<{peer: string; index: number}> = [];
	const record = (peer: string, activity: PeerActivity[]) => {
		for (const item of activity) {
			if (item.type === 'send') {
				sent.get(peer)?.push(...item.messages);
			} else if (item.type === 'piece-complete') {
				completed.push({peer, index: item.piece.index});
			}
		}
	};

	PieceSignals.of(picker).blockArrived$.subscribe(({piece, block}) => {
		for (const [peer, downloader] of peers) {
			record(peer, downloader.blockArrived(piece, block));
		}
	});
	const window = {
		...defaultWindowOptions,
		initialWindow: windowSize,
		minWindow: windowSize,
		maxWindow: windowSize,
	};
	const join = (peer: string) => {
		const downloader = new PeerDownloader(peer, picker, window, 0);
		peers.set(peer, downloader);
		sent.set(peer, []);
		record(peer, downloader.receive({type: 'have-all'}, 0));
		record(peer, downloader.receive({type: 'unchoke'}, 0));
		return downloader;
	};

	/** Takes what `peer` sent since the last call, requests and cancels only. */
	const drain = (peer: string): Request[] => {
		const messages = sent.get(peer) ?? [];
		sent.set(peer, []);
		return messages.filter(
			(message): message is Request => message.type === 'request' || message.type === 'cancel',
		);
	};

	const deliver = (peer: string, index: number, block: number) => {
		const downloader = peers.get(peer);
		if (!downloader) {
			throw new Error(`no peer ${peer}`);
		}

		const message: PeerMessage = {
			type: 'piece',
			index,
			begin: block * kib16,
			block: Buffer.alloc(kib16, index),
		};
		record(peer, downloader.receive(message, 1));
	};

	return {picker, peers, join, drain, deliver, completed};
}

const keys = (messages: Request[]) =>
	messages.map((message) => `${message.type} ${message.index}/${message.begin / kib16}`);

test('no endgame while pieces are still to be started: a second peer gets a piece of its own', (t) => {
	const {picker, join, drain} = swarm(3);
	join('a');
	t.deepEqual(new Set(drain('a').map((request) => request.index)), new Set([0, 1]));
	t.false(picker.endgame);
	join('b');
	t.true(picker.endgame, 'the third piece is started now');
	t.deepEqual(
		keys(drain('b')),
		[
			'request 2/0',
			'request 2/1',
			'request 2/2',
			'request 2/3',
			'request 0/0',
			'request 0/1',
			'request 0/2',
			'request 0/3',
		],
		'its own piece first, then copies of the oldest piece it could help with',
	);
});

test('in endgame an idle peer asks for the blocks another peer is waiting for; the first copy wins and the other is cancelled', (t) => {
	const {picker, join, drain, deliver, completed} = swarm(2);
	join('a');
	const asked = keys(drain('a'));
	t.is(asked.length, 8);
	t.true(picker.endgame);

	join('b');
	t.deepEqual(keys(drain('b')), asked, 'b duplicates all of what a waits for');

	deliver('b', 0, 0);
	t.deepEqual(keys(drain('a')), ['cancel 0/0'], 'a no longer wants its copy');
	t.deepEqual(drain('b'), [], 'b has nothing new to ask for');

	deliver('a', 0, 0);
	t.deepEqual(completed, [], 'the late copy is dropped without harm');

	deliver('a', 0, 1);
	t.deepEqual(keys(drain('b')), ['cancel 0/1'], 'and the other way round');
	deliver('b', 0, 2);
	deliver('b', 0, 3);
	t.deepEqual(completed, [{peer: 'b', index: 0}], 'whoever stores the last block hands the piece on');
	t.deepEqual(keys(drain('a')), ['cancel 0/2', 'cancel 0/3']);

	for (const block of [0, 1, 2, 3]) {
		deliver('a', 1, block);
	}

	t.deepEqual(completed.at(-1), {peer: 'a', index: 1});
	t.deepEqual(keys(drain('b')), ['cancel 1/0', 'cancel 1/1', 'cancel 1/2', 'cancel 1/3']);
	for (const block of [0, 1, 2, 3]) {
		deliver('b', 1, block);
	}

	t.is(completed.length, 2, 'each piece is handed on exactly once');
});

test('a block is asked of the fewest peers first, blocks the owner has not asked for yet before copies', (t) => {
	const {join, drain} = swarm(1, 2);
	join('a');
	t.deepEqual(keys(drain('a')), ['request 0/0', 'request 0/1']);
	join('b');
	t.deepEqual(keys(drain('b')), ['request 0/2', 'request 0/3']);
	join('c');
	t.deepEqual(keys(drain('c')), ['request 0/0', 'request 0/1']);
	join('d');
	t.deepEqual(keys(drain('d')), ['request 0/2', 'request 0/3']);
});

test('a peer leaving in endgame takes only its own requests with it', (t) => {
	const {picker, peers, join, drain, deliver, completed} = swarm(1);
	join('a');
	drain('a');
	join('b');
	t.is(drain('b').length, 4);
	peers.get('b')?.close();
	peers.delete('b');
	t.true(picker.endgame, 'the piece is still asked of a');
	deliver('a', 0, 0);
	t.deepEqual(drain('a'), []);

	peers.get('a')?.close();
	peers.delete('a');
	join('c');
	t.deepEqual(keys(drain('c')), ['request 0/1', 'request 0/2', 'request 0/3'], 'the block a sent is kept');
	for (const block of [1, 2, 3]) {
		deliver('c', 0, block);
	}

	t.deepEqual(completed, [{peer: 'c', index: 0}]);
});

test('an owner that leaves while others hold copies leaves the piece to them, blocks and all', (t) => {
	const {picker, peers, join, drain, deliver, completed} = swarm(1);
	join('a');
	drain('a');
	join('b');
	drain('b');
	peers.get('a')?.close();
	peers.delete('a');
	t.is(picker.pick(peers.get('b')?.peerPieces ?? ({} as never))?.index, 0, 'an orphan, not a fresh piece');
	for (const block of [0, 1, 2, 3]) {
		deliver('b', 0, block);
	}

	t.deepEqual(completed, [{peer: 'b', index: 0}], 'b finished the piece object it was filling');
});

test('a piece that fails its hash in endgame is needed again: no more copies until it is restarted', (t) => {
	const {picker, join, drain, deliver, completed} = swarm(2);
	join('a');
	drain('a');
	for (const block of [0, 1, 2, 3]) {
		deliver('a', 0, block);
	}

	t.deepEqual(completed, [{peer: 'a', index: 0}]);
	picker.markFailed(0);
	t.false(picker.endgame);
	join('b');
	t.deepEqual(keys(drain('b')).slice(0, 4), ['request 0/0', 'request 0/1', 'request 0/2', 'request 0/3']);
});

test('claimDuplicate takes the missing block asked of the fewest peers, never one the caller asked for', (t) => {
	const piece = new PieceProgress(0, 4 * kib16);
	t.is(piece.claimBlock(), 0);
	t.is(piece.claimBlock(), 1);
	t.is(piece.claimBlock(), 2);
	t.is(piece.receive(kib16, Buffer.alloc(kib16), 'a'), 'stored');
	const ours = new Set<number>();
	const claim = () => {
		const block = piece.claimDuplicate((candidate) => ours.has(candidate));
		ours.add(block);
		return block;
	};

	t.is(claim(), 3, 'a block nobody asked for');
	t.is(claim(), 0, 'then blocks asked of one peer');
	t.is(claim(), 2);
	t.is(claim(), -1, 'all the missing blocks are ours now');
	t.is(
		piece.claimDuplicate(() => false),
		3,
		'another peer: asked of one peer (us) rather than of two',
	);
	t.is(piece.receive(kib16, Buffer.alloc(kib16), 'b'), 'duplicate');
	t.is(piece.receive(kib16 + 1, Buffer.alloc(kib16), 'b'), 'misfit');
	t.is(piece.receive(3 * kib16, Buffer.alloc(kib16 - 1), 'b'), 'misfit');
	piece.unclaimBlock(2);
	t.true(piece.isRequested(2), 'still asked of the other peer');
	piece.unclaimBlock(2);
	t.false(piece.isRequested(2));
	t.is(piece.claimBlock(), 2, 'free again once nobody asks for it');
});
