import test from 'ava';
import {EMPTY, type Observable, of, take} from 'rxjs';
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
import {testScheduler} from '../helpers/marbles.js';
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

/** Ports whose verdict and write are the given cold Observables, for marble tests. */
function marblePorts(
	verdict$: Observable<boolean>,
	write$: Observable<void>,
): Pick<SwarmPorts, 'verifyPiece' | 'store'> {
	return {
		verifyPiece: () => verdict$,
		store: {preexisting: [], writePiece: () => write$, readPiece: () => EMPTY},
	};
}

function fullBitfield(): Bitfield {
	const everything = new Bitfield(torrent.pieces.length);
	everything.setAll();
	return everything;
}

test('a piece that passes is written, then announced as verified; the verdict and the write are each subscribed while they run', (t) => {
	const {context, piece} = setup(new PieceBufferPool(1 << 20));
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const verdict$ = cold('--(p|)', {p: true});
		const write$ = cold<void>('---|');
		piece.startedAt = 0;
		const events$ = verifyAndStore(piece, 'peer', marblePorts(verdict$, write$), context);
		expectObservable(events$).toBe('-----(v|)', {
			v: {type: 'piece-verified', peer: 'peer', index: piece.index, bytes: piece.length, durationMs: 5},
		});
		expectSubscriptions(verdict$.subscriptions).toBe('^-!');
		expectSubscriptions(write$.subscriptions).toBe('--^--!');
	});
	t.true(context.shared.picker.isDone(piece.index));
});

test('a piece that fails is a strike, never written', (t) => {
	const {context, piece} = setup(new PieceBufferPool(1 << 20));
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const verdict$ = cold('--(f|)', {f: false});
		const write$ = cold<void>('---|');
		const events$ = verifyAndStore(piece, 'peer', marblePorts(verdict$, write$), context);
		expectObservable(events$).toBe('--(f|)', {
			f: {type: 'piece-failed', peer: 'peer', index: piece.index, strikes: 1},
		});
		expectSubscriptions(verdict$.subscriptions).toBe('^-!');
		expectSubscriptions(write$.subscriptions).toBe([]);
	});
	t.false(context.shared.picker.isDone(piece.index));
	t.is(context.reputation.strikesOf('peer'), 1);
});

test('let go of during the write, the write is cancelled and the piece is needed again', (t) => {
	const {context, piece} = setup(new PieceBufferPool(1 << 20));
	const {picker} = context.shared;
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const verdict$ = cold('-(p|)', {p: true});
		const write$ = cold<void>('-----|');
		const events$ = verifyAndStore(piece, 'peer', marblePorts(verdict$, write$), context);
		expectObservable(events$, '^--!').toBe('---');
		expectSubscriptions(write$.subscriptions).toBe('-^-!');
	});
	t.false(picker.isDone(piece.index));
	t.is(picker.bytesInFlight, 0, 'its bytes are no longer in flight');
	t.is(picker.pick(fullBitfield())?.index, piece.index, 'and it is picked again');
});
