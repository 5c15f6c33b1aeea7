import {createHash} from 'node:crypto';
import test from 'ava';
import {firstValueFrom} from 'rxjs';
import {PieceHashes} from '../../source/codec/piece-hashes.js';
import {type HashPort, hashOnMainThread} from '../../source/hashing/sha1.js';
import {sha1PieceVerifier} from '../../source/verify/piece-verifier.js';
import {testScheduler} from '../helpers/marbles.js';

test('the SHA-1 verifier passes a piece whose digest the torrent lists, and fails any other data', async (t) => {
	const pieces = [Buffer.alloc(100, 1), Buffer.alloc(100, 2)];
	const hashes = PieceHashes.fromConcatenated(
		Buffer.concat(pieces.map((piece) => createHash('sha1').update(piece).digest())),
	);
	const verify = sha1PieceVerifier(hashOnMainThread, hashes);
	t.true(await firstValueFrom(verify(0, pieces[0] as Buffer)));
	t.true(await firstValueFrom(verify(1, pieces[1] as Buffer)));
	t.false(await firstValueFrom(verify(0, pieces[1] as Buffer)), 'the right data for the wrong piece');
	t.false(await firstValueFrom(verify(1, Buffer.alloc(100, 3))));
});

test('the verdict comes when the hash does, a hasher failure fails it, and letting go of it lets go of the hasher', (t) => {
	const digest = createHash('sha1').update('piece').digest();
	const hashes = PieceHashes.fromConcatenated(digest);
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const slow = cold<Buffer>('--(d|)', {d: digest});
		const failing = cold<Buffer>('-#', undefined, new Error('worker gone'));
		const never = cold<Buffer>('-');
		const hashers = [slow, failing, never];
		let next = 0;
		const hashPiece: HashPort = () => hashers[next++] ?? never;
		const verify = sha1PieceVerifier(hashPiece, hashes);
		expectObservable(verify(0, Buffer.from('piece'))).toBe('--(p|)', {p: true});
		expectObservable(verify(0, Buffer.from('piece'))).toBe('-#', undefined, new Error('worker gone'));
		expectObservable(verify(0, Buffer.from('piece')), '^--!').toBe('');
		expectSubscriptions(slow.subscriptions).toBe('^-!');
		expectSubscriptions(failing.subscriptions).toBe('^!');
		expectSubscriptions(never.subscriptions).toBe('^--!');
	});
});
