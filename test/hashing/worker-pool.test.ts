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
