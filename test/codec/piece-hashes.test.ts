import {createHash} from 'node:crypto';
import test from 'ava';
import {PieceHashes} from '../../source/codec/piece-hashes.js';

const sha1 = (text: string) => createHash('sha1').update(text).digest();
const digests = ['piece 0', 'piece 1', 'piece 2'].map(sha1);

test('each piece matches its own digest and no other', (t) => {
	const hashes = PieceHashes.of(digests);
	t.is(hashes.count, 3);
	for (const [index, digest] of digests.entries()) {
		t.true(hashes.matches(index, digest), `piece ${index}`);
		t.false(hashes.matches((index + 1) % 3, digest), `piece ${index} against the next`);
	}
});

test('a digest of the wrong length or an index outside the torrent never matches', (t) => {
	const hashes = PieceHashes.of(digests);
	const first = digests[0] ?? Buffer.alloc(0);
	t.false(hashes.matches(0, first.subarray(0, 19)));
	t.false(hashes.matches(0, Buffer.concat([first, Buffer.alloc(1)])));
	t.false(hashes.matches(-1, first));
	t.false(hashes.matches(3, first));
	t.false(hashes.matches(0.5, first));
});

test('the concatenated form is read back piece by piece, from the same memory', (t) => {
	const pieces = Buffer.concat(digests);
	const hashes = PieceHashes.fromConcatenated(
		new Uint8Array(pieces.buffer, pieces.byteOffset, pieces.length),
	);
	t.is(hashes.digests.buffer, pieces.buffer, 'a view, not a copy');
	t.deepEqual(hashes.at(1), digests[1]);
	t.deepEqual(hashes.digests, Buffer.concat(digests));
	t.throws(() => hashes.at(3), {instanceOf: RangeError});
});

test('a length that is not a whole number of digests is refused', (t) => {
	t.throws(() => PieceHashes.fromConcatenated(Buffer.alloc(41)), {instanceOf: RangeError});
});
