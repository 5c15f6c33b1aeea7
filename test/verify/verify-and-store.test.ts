import test from 'ava';
import {EMPTY, of, take} from 'rxjs';
import {Bitfield} from '../../source/codec/bitfield.js';
import {PieceBufferPool} from '../../source/download/piece-buffers.js';
import {PiecePicker} from '../../source/download/piece-picker.js';
import type {RunEvent} from '../../source/events/events.js';
import type {HashPort} from '../../source/hashing/sha1.js';
import type {SwarmPorts} from '../../source/swarm/swarm-context.js';
import {sha1PieceVerifier} from '../../source/verify/piece-verifier.js';
import {verifyAndStore} from '../../source/verify/verify-and-store.js';
import {endless} from '../helpers/endless.js';
import {makeTorrent} from '../helpers/fake-peer.js';
import {swarmContext} from '../helpers/swarm-context.js';

const torrent = makeTorrent(4 * 16 * 1024, 16 * 1024);
const pieceSize = (index: number) => torrent.pieces[index]?.length ?? 0;

/** A context whose picker takes its buffers from `pool`, and piece 0 picked, filled and sent by `peer`. */
function setup(pool: PieceBufferPool) {
	const picker = new PiecePicker(pieceSize, torrent.pieces.length, {
		maxBytesInFlight: 1 << 20,
		random: () => 0,
		buffers: pool,
	});
	const context = swarmContext(torrent, {shared: {picker}});
	const everything = new Bitfield(torrent.pieces.length);
	for (let index = 0; index < torrent.pieces.length; index++) {
		everything.set(index);
	}

	const piece = picker.pick(everything);
	if (!piece) {
		throw new Error('nothing to pick');
	}

	torrent.pieces[piece.index]?.copy(piece.data);
	piece.contributors.add('peer');
	return {context, piece};
}

const ports = (hashPiece: HashPort): SwarmPorts => ({
	connect: () => EMPTY,
	verifyPiece: sha1PieceVerifier(hashPiece, torrent.pieceHashes),
	store: {preexisting: [], writePiece: () => of(undefined), readPiece: () => EMPTY},
	readBlock: () => EMPTY,
});

test('a piece from a banned peer is thrown away and its buffer goes back to the pool', (t) => {
	const pool = new PieceBufferPool(1 << 20);
	const {context, piece} = setup(pool);
	context.reputation.ban('peer');
	let failed: unknown;
	verifyAndStore(
		piece,
		'peer',
		ports(() => of(Buffer.alloc(20))),
		context,
	).subscribe({
		error: (error: unknown) => (failed = error),
	});
	t.truthy(failed);
	t.is(pool.idleBytes, piece.length);
	t.is(piece.takeData(), undefined);
});

test('a synchronous hash source stops when the consumer lets go: one strike, not one per digest', (t) => {
	const {context, piece} = setup(new PieceBufferPool(1 << 20));
	const digests = endless(() => Buffer.alloc(20));
	const events: RunEvent[] = [];
	verifyAndStore(
		piece,
		'peer',
		ports(() => digests.source$),
		context,
	)
		.pipe(take(1))
		.subscribe({next: (event) => events.push(event), error: () => undefined});
	t.deepEqual(events, [{type: 'piece-failed', peer: 'peer', index: piece.index, strikes: 1}]);
	t.is(digests.emitted(), 1);
	t.is(context.reputation.strikesOf('peer'), 1);
});
