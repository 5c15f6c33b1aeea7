import {createHash} from 'node:crypto';
import test from 'ava';
import {defer, finalize, lastValueFrom, map, mergeMap, type Observable, of, timer, toArray} from 'rxjs';
import {Bitfield} from '../../source/codec/bitfield.js';
import {PieceHashes} from '../../source/codec/piece-hashes.js';
import type {RunEvent} from '../../source/events/events.js';
import {hashOnMainThread} from '../../source/hashing/sha1.js';
import type {PieceStore} from '../../source/storage/disk.js';
import {StorageLayout} from '../../source/storage/layout.js';
import type {ResumeStore} from '../../source/storage/resume-file.js';
import {
	type CheckOptions,
	type CheckResult,
	checkExistingPieces,
	piecesOnDisk,
} from '../../source/verify/check-existing.js';
import {sha1PieceVerifier} from '../../source/verify/piece-verifier.js';
import {makeTorrent, memoryStore} from '../helpers/fake-peer.js';
import {testScheduler} from '../helpers/marbles.js';

const pieceLength = 1000;
/** Six pieces, the last one 500 bytes. */
const torrent = makeTorrent(5500, pieceLength);

/**
 * The payload on disk with pieces 1 and 3 corrupted (one flipped byte each), counting the
 * reads per piece and the most reads at once; each read takes `readMs` virtual ms (0: at once).
 */
function diskWithDamage(readMs: number) {
	const disk = memoryStore(pieceLength, torrent.payload.length);
	torrent.payload.copy(disk.data);
	for (const index of [1, 3]) {
		const offset = index * pieceLength + 17;
		disk.data.writeUInt8((disk.data.readUInt8(offset) ^ 0x01) & 0xff, offset);
	}

	const reads: number[] = [];
	let reading = 0;
	let mostAtOnce = 0;
	const store: PieceStore = {
		...disk,
		readPiece(index, into) {
			const read$ =
				readMs === 0
					? disk.readPiece(index, into)
					: timer(readMs).pipe(mergeMap(() => disk.readPiece(index, into)));
			return defer(() => {
				reads.push(index);
				reading++;
				mostAtOnce = Math.max(mostAtOnce, reading);
				return read$.pipe(finalize(() => reading--));
			});
		},
	};
	return {store, reads, mostAtOnce: () => mostAtOnce};
}

const pieceSize = (index: number) => torrent.pieces[index]?.length ?? 0;

/** Piece 4 is intact but not a candidate: it must count as missing, unread. */
const candidates = (index: number) => index !== 4;

/** The events with the result's bitfield as the list of pieces it holds. */
function readable(events$: Observable<RunEvent | CheckResult>) {
	return events$.pipe(
		map((event) =>
			event.type === 'check-result'
				? {
						type: event.type,
						have: Array.from({length: event.have.length}, (_, index) => index).filter((index) =>
							event.have.has(index),
						),
					}
				: event,
		),
	);
}

const checking = (checked: number) => ({type: 'checking', checked, total: 5});

/** Checks the six pieces of `store`, candidates 0-3 and 5, two at once, progress every 100 ms unless told. */
const checkStore = (store: PieceStore, options: Partial<CheckOptions> = {}) =>
	checkExistingPieces(store, sha1PieceVerifier(hashOnMainThread, torrent.pieceHashes), {
		pieceCount: 6,
		pieceLength,
		pieceSize,
		candidates,
		concurrency: 2,
		progressMs: 100,
		...options,
	});

test('keeps exactly the intact candidate pieces, and never reads the others', (t) => {
	const {store, reads} = diskWithDamage(0);
	testScheduler(t).run(({expectObservable}) => {
		const events$ = checkStore(store);
		// Every read answers at once: the leading progress at 0, the trailing one when the
		// throttle period ends, then the summary (the short last piece counted at its size) and the result.
		// `have`: pieces 0, 2 and 5 as the wire's bitfield, 0b10100100, in base64.
		expectObservable(readable(events$)).toBe('a 99ms (bcd|)', {
			a: checking(1),
			b: checking(5),
			c: {type: 'checked', pieces: 3, total: 6, bytes: 2500, have: 'pA=='},
			d: {type: 'check-result', have: [0, 2, 5]},
		});
	});
	t.deepEqual(reads, [0, 1, 2, 3, 5]);
});

test('reads `concurrency` pieces at once and throttles progress; the last progress counts every candidate', (t) => {
	const {store, reads, mostAtOnce} = diskWithDamage(10);
	testScheduler(t).run(({expectObservable}) => {
		const events$ = checkStore(store, {progressMs: 15});
		// Checked: 2 at 10 ms, 4 at 20 ms, 5 at 30 ms. Progress: leading at 10, trailing at 25
		// (which opens another period), the last at 40 with the summary and the result.
		expectObservable(readable(events$)).toBe('10ms a 14ms b 14ms (cde|)', {
			a: checking(1),
			b: checking(4),
			c: checking(5),
			d: {type: 'checked', pieces: 3, total: 6, bytes: 2500, have: 'pA=='},
			e: {type: 'check-result', have: [0, 2, 5]},
		});
	});
	t.deepEqual(reads, [0, 1, 2, 3, 5]);
	t.is(mostAtOnce(), 2);
});

test('with no candidates nothing is read and the result is empty at once', (t) => {
	const {store, reads} = diskWithDamage(0);
	testScheduler(t).run(({expectObservable}) => {
		const events$ = checkStore(store, {candidates: () => false});
		expectObservable(readable(events$)).toBe('(ab|)', {
			a: {type: 'checked', pieces: 0, total: 6, bytes: 0},
			b: {type: 'check-result', have: []},
		});
	});
	t.deepEqual(reads, []);
});

test('let go of while checking, the reads in progress are cancelled and no more are started', (t) => {
	const {store: disk} = diskWithDamage(0);
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		// Each read takes 10 ms and answers the intact piece.
		const reads = torrent.pieces.map((piece) => cold<Buffer>('10ms (p|)', {p: piece}));
		const store: PieceStore = {...disk, readPiece: (index) => reads[index] ?? cold('#')};
		// The first two pieces are read by 10 ms, the next two start then; at 15 ms the consumer lets go.
		expectObservable(readable(checkStore(store)), '^ 14ms !').toBe('10ms a', {a: checking(1)});
		// Each read's own log, filled as the run flushes: pieces 2 and 3 started, 4 and 5 never.
		const expected = ['^ 9ms !', '^ 9ms !', '10ms ^ 4ms !', '10ms ^ 4ms !', [], []];
		for (const [index, read] of reads.entries()) {
			expectSubscriptions(read.subscriptions).toBe(expected[index] ?? []);
		}
	});
});

test('a fresh download is not checked, but for pieces of pad bytes alone (BEP 47): those are found complete', async (t) => {
	const data = Buffer.alloc(1000, 7);
	const layout = new StorageLayout(
		[
			{path: ['set', 'a'], length: 1000, offset: 0},
			{path: ['set', '.pad', '1000'], length: 1000, offset: 1000, pad: true},
		],
		1000,
	);
	const hashes = PieceHashes.fromConcatenated(
		Buffer.concat([data, Buffer.alloc(1000)].map((piece) => createHash('sha1').update(piece).digest())),
	);
	const store = {...memoryStore(1000, 2000), preexisting: [false, false]};
	const events = await lastValueFrom(
		piecesOnDisk(store, undefined, sha1PieceVerifier(hashOnMainThread, hashes), layout).pipe(toArray()),
	);
	const result = events.find((event): event is CheckResult => event.type === 'check-result');
	t.deepEqual(
		[result?.have.has(0), result?.have.has(1)],
		[false, true],
		'the data piece is to fetch; the pad piece needs nobody',
	);
});

/** A resume store that vouches for `pieces`, whatever is on disk. */
function vouchingFor(pieces: number[], count: number): ResumeStore {
	const have = new Bitfield(count);
	for (const index of pieces) {
		have.set(index);
	}

	return {load: () => of(have), save: () => of(undefined)};
}

test('the resume file is taken at its word but for pieces no longer readable, and pieces in files made since, which are hashed', async (t) => {
	// Three files of two pieces each; the disk holds the payload with piece 1 damaged.
	const layout = new StorageLayout(
		[
			{path: ['t', 'a'], length: 2000, offset: 0},
			{path: ['t', 'b'], length: 2000, offset: 2000},
			{path: ['t', 'c'], length: 1500, offset: 4000},
		],
		pieceLength,
	);
	const {store, reads} = diskWithDamage(0);
	// a was made just now (brought from the parts file, say); c is kept in parts with nothing of piece 4 there.
	const opened: PieceStore = {
		...store,
		preexisting: [true, true, false],
		createdNow: [true, false, false],
		readable: (index) => index !== 4,
	};
	const events = await lastValueFrom(
		piecesOnDisk(
			opened,
			vouchingFor([0, 1, 2, 4, 5], 6),
			sha1PieceVerifier(hashOnMainThread, torrent.pieceHashes),
			layout,
		).pipe(readable, toArray()),
	);
	// 0 and 1 are a's, hashed: 1 fails. 2 and 5 are taken unread; 4 cannot be read back.
	t.deepEqual(reads, [0, 1]);
	t.like(events.at(-2), {type: 'checked', pieces: 3, fromResumeFile: true});
	t.deepEqual(events.at(-1), {type: 'check-result', have: [0, 2, 5]});
});
