import {createHash} from 'node:crypto';
import test from 'ava';
import {firstValueFrom, forkJoin} from 'rxjs';
import {createHashWorkerPool} from '../../source/hashing/worker-pool.js';

const sha1 = (data: Buffer) => createHash('sha1').update(data).digest();

test('hashes pieces on worker threads, many at once, each to its own digest', async (t) => {
	const pool = createHashWorkerPool(2);
	t.teardown(async () => pool.close());
	const pieces = Array.from({length: 16}, (_, index) =>
		Buffer.from(new SharedArrayBuffer(200_000)).fill(index),
	);
	const digests = await firstValueFrom(forkJoin(pieces.map((piece) => pool.hashPiece(piece))));
	t.deepEqual(
		digests.map((digest) => digest.toString('hex')),
		pieces.map((piece) => sha1(piece).toString('hex')),
	);
});

test('an ordinary (non-shared) buffer is hashed too, and stays usable', async (t) => {
	const pool = createHashWorkerPool(1);
	t.teardown(async () => pool.close());
	const piece = Buffer.alloc(300_000, 'the quick brown fox');
	t.deepEqual(await firstValueFrom(pool.hashPiece(piece)), sha1(piece));
	t.is(piece.subarray(0, 19).toString(), 'the quick brown fox');
});

test('small pieces, hashed without a hand-over, get their digests too', async (t) => {
	const pool = createHashWorkerPool(1);
	t.teardown(async () => pool.close());
	const piece = Buffer.from('the quick brown fox');
	t.deepEqual(await firstValueFrom(pool.hashPiece(piece)), sha1(piece));
});

test('workers start only when big pieces come, and only as many as are busy at once', async (t) => {
	const pool = createHashWorkerPool(3);
	t.teardown(async () => pool.close());
	await firstValueFrom(pool.hashPiece(Buffer.alloc(64 * 1024)));
	t.is(pool.workersStarted, 0, 'a small piece is hashed where it is');
	const big = () => Buffer.from(new SharedArrayBuffer(1 << 20)).fill(7);
	await firstValueFrom(pool.hashPiece(big()));
	await firstValueFrom(pool.hashPiece(big()));
	t.is(pool.workersStarted, 1, 'one piece at a time needs one worker');
	await firstValueFrom(forkJoin(Array.from({length: 8}, () => pool.hashPiece(big()))));
	t.is(pool.workersStarted, 3, 'eight at once start the rest, and no more than the size');
});
