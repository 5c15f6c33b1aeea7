import {createHash} from 'node:crypto';
import test from 'ava';
import {firstValueFrom} from 'rxjs';
import {PieceHashes} from '../../source/codec/piece-hashes.js';
import {hashOnMainThread} from '../../source/hashing/sha1.js';
import {sha1PieceVerifier} from '../../source/verify/piece-verifier.js';

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
