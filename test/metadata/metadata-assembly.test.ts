import {createHash} from 'node:crypto';
import test from 'ava';
import {maxMetadataSize, metadataPieceLength} from '../../source/codec/extension-protocol.js';
import {MetadataAssembly} from '../../source/metadata/metadata-assembly.js';

/** An "info dictionary" of `length` bytes (the assembly never decodes it) and its hash. */
function metadata(length: number) {
	const bytes = Buffer.alloc(length);
	for (let index = 0; index < length; index++) {
		bytes[index] = (index * 13 + (index >> 9)) & 0xff;
	}

	return {bytes, infoHash: createHash('sha1').update(bytes).digest()};
}

const piece = (bytes: Buffer, index: number) =>
	bytes.subarray(index * metadataPieceLength, (index + 1) * metadataPieceLength);

test('the first sane size is taken; the same size agrees, another does not', (t) => {
	const assembly = new MetadataAssembly(Buffer.alloc(20));
	t.is(assembly.size, undefined);
	t.is(assembly.pieceCount, 0);
	t.false(assembly.offerSize(0), 'zero');
	t.false(assembly.offerSize(-5), 'negative');
	t.false(assembly.offerSize(maxMetadataSize + 1), 'absurd');
	t.false(assembly.offerSize(Number.NaN), 'not a number');
	t.is(assembly.size, undefined, 'a refused size sets nothing');

	t.true(assembly.offerSize(40_000));
	t.is(assembly.size, 40_000);
	t.is(assembly.pieceCount, 3, 'two pieces of 16 KiB and one of 7232 bytes');
	t.true(assembly.offerSize(40_000));
	t.false(assembly.offerSize(40_001));
	t.false(assembly.offerSize(16_384));
	t.is(assembly.size, 40_000, 'a disagreeing peer does not change the size');
});

test('piece counts at the 16 KiB boundaries', (t) => {
	for (const [size, pieces] of [
		[1, 1],
		[metadataPieceLength, 1],
		[metadataPieceLength + 1, 2],
		[3 * metadataPieceLength, 3],
		[maxMetadataSize, maxMetadataSize / metadataPieceLength],
	] as const) {
		const assembly = new MetadataAssembly(Buffer.alloc(20));
		t.true(assembly.offerSize(size));
		t.is(assembly.pieceCount, pieces, `${size} bytes`);
	}
});

test('nothing can be claimed or received before a size is known', (t) => {
	const assembly = new MetadataAssembly(Buffer.alloc(20));
	t.is(assembly.claim('a'), undefined);
	t.false(assembly.receive('a', 0, Buffer.alloc(10)));
});

test('claims hand out each piece once, in order, across peers, until none is left', (t) => {
	const assembly = new MetadataAssembly(Buffer.alloc(20));
	assembly.offerSize(5 * metadataPieceLength);
	t.is(assembly.claim('a'), 0);
	t.is(assembly.claim('b'), 1);
	t.is(assembly.claim('a'), 2);
	t.is(assembly.claim('c'), 3);
	t.is(assembly.claim('b'), 4);
	t.is(assembly.claim('a'), undefined);
	t.is(assembly.claim('d'), undefined);
});

test('release gives back one piece, or all of a peer, and only that peer’s', (t) => {
	const assembly = new MetadataAssembly(Buffer.alloc(20));
	assembly.offerSize(4 * metadataPieceLength);
	const claims = ['a', 'b', 'a', 'b'].map((peer) => [peer, assembly.claim(peer)] as const);
	t.deepEqual(claims, [
		['a', 0],
		['b', 1],
		['a', 2],
		['b', 3],
	]);

	assembly.release('b', 3);
	t.is(assembly.claim('c'), 3, 'the piece b rejected');
	t.is(assembly.claim('c'), undefined);

	assembly.release('a', 1);
	t.is(assembly.claim('c'), undefined, 'a cannot release what b was asked for');

	assembly.release('a');
	t.is(assembly.claim('c'), 0);
	t.is(assembly.claim('c'), 2);
	t.is(assembly.claim('c'), undefined, 'b still holds piece 1');
	assembly.release('nobody');
	t.is(assembly.claim('d'), undefined);
});

test('a piece nobody asked this peer for, or of the wrong size, is refused and stays claimed', (t) => {
	const {bytes, infoHash} = metadata(40_000);
	const assembly = new MetadataAssembly(infoHash);
	assembly.offerSize(bytes.length);
	t.is(assembly.claim('a'), 0);
	t.is(assembly.claim('b'), 1);

	t.false(assembly.receive('a', 1, piece(bytes, 1)), 'asked of b, not a');
	t.false(assembly.receive('a', 2, piece(bytes, 2)), 'asked of nobody');
	t.false(assembly.receive('a', 7, Buffer.alloc(10)), 'no such piece');
	t.false(assembly.receive('a', 0, piece(bytes, 0).subarray(1)), 'a byte short');
	t.false(assembly.receive('a', 0, Buffer.concat([piece(bytes, 0), Buffer.alloc(1)])), 'a byte long');

	t.is(assembly.claim('c'), 2, 'pieces 0 and 1 are still out');
	t.is(assembly.receive('a', 0, piece(bytes, 0)), undefined, 'the right one is taken');
	t.false(assembly.receive('a', 0, piece(bytes, 0)), 'but only once');
});

test('the last piece must be exactly the rest of the size', (t) => {
	const {bytes, infoHash} = metadata(40_000);
	const assembly = new MetadataAssembly(infoHash);
	assembly.offerSize(bytes.length);
	for (let index = 0; index < 3; index++) {
		assembly.claim('a');
	}

	t.false(assembly.receive('a', 2, Buffer.alloc(metadataPieceLength)), 'a full 16 KiB last piece');
	t.false(assembly.receive('a', 2, Buffer.alloc(40_000 - 2 * metadataPieceLength - 1)));
});

test('pieces from several peers in any order make the verified whole, returned once', (t) => {
	const {bytes, infoHash} = metadata(3 * metadataPieceLength + 100);
	const assembly = new MetadataAssembly(infoHash);
	t.true(assembly.offerSize(bytes.length));
	const owner = new Map<number, string>();
	for (const peer of ['a', 'b', 'a', 'b']) {
		const index = assembly.claim(peer);
		if (index !== undefined) {
			owner.set(index, peer);
		}
	}

	t.is(owner.size, 4);
	const order = [3, 1, 0, 2];
	const results = order.map((index) => {
		// The bytes handed over are copied: the socket's buffer may be reused.
		const data = Buffer.from(piece(bytes, index));
		const result = assembly.receive(owner.get(index) ?? '', index, data);
		data.fill(0);
		return result;
	});
	t.deepEqual(results.slice(0, 3), [undefined, undefined, undefined]);
	const whole = results[3];
	t.true(Buffer.isBuffer(whole) && whole.equals(bytes), 'the verified bytes');
	t.is(assembly.failures, 0);
	t.is(assembly.claim('c'), undefined, 'nothing left to ask for');
});

test('a single-piece dictionary is whole with its one piece', (t) => {
	const {bytes, infoHash} = metadata(321);
	const assembly = new MetadataAssembly(infoHash);
	assembly.offerSize(bytes.length);
	t.is(assembly.claim('a'), 0);
	const whole = assembly.receive('a', 0, bytes);
	t.true(Buffer.isBuffer(whole) && whole.equals(bytes));
});

test('a whole that fails the hash is thrown away, counted, and fetched again', (t) => {
	const {bytes, infoHash} = metadata(40_000);
	const assembly = new MetadataAssembly(infoHash);
	assembly.offerSize(bytes.length);
	t.is(assembly.claim('liar'), 0);
	t.is(assembly.claim('honest'), 1);
	t.is(assembly.claim('honest'), 2);

	const lie = Buffer.from(piece(bytes, 0));
	lie[100] = (lie[100] ?? 0) ^ 0xff;
	t.is(assembly.receive('liar', 0, lie), undefined);
	t.is(assembly.receive('honest', 1, piece(bytes, 1)), undefined);
	t.is(assembly.receive('honest', 2, piece(bytes, 2)), undefined, 'all in, but the hash is wrong');
	t.is(assembly.failures, 1);
	t.is(assembly.size, 40_000, 'the size stays');
	t.is(assembly.pieceCount, 3);

	// Every piece is wanted again, the good ones too: nobody knows which was bad.
	t.deepEqual(
		[assembly.claim('honest'), assembly.claim('honest'), assembly.claim('honest'), assembly.claim('honest')],
		[0, 1, 2, undefined],
	);
	t.false(assembly.receive('liar', 0, piece(bytes, 0)), 'piece 0 is now asked of another peer');
	t.is(assembly.receive('honest', 2, piece(bytes, 2)), undefined);
	t.is(assembly.receive('honest', 0, piece(bytes, 0)), undefined);
	const whole = assembly.receive('honest', 1, piece(bytes, 1));
	t.true(Buffer.isBuffer(whole) && whole.equals(bytes), 'the second time it is whole and verified');
	t.is(assembly.failures, 1);
});

test('failures add up; a peer that sent a whole bad dictionary alone is not asked again', (t) => {
	const {bytes, infoHash} = metadata(2 * metadataPieceLength);
	const assembly = new MetadataAssembly(infoHash);
	assembly.offerSize(bytes.length);
	for (const [round, liar] of ['first', 'second', 'third'].entries()) {
		t.is(assembly.claim(liar), 0);
		t.is(assembly.claim(liar), 1);
		assembly.receive(liar, 0, Buffer.alloc(metadataPieceLength));
		t.is(assembly.receive(liar, 1, Buffer.alloc(metadataPieceLength)), undefined);
		t.is(assembly.failures, round + 1);
		t.true(assembly.isBanned(liar));
		t.is(assembly.claim(liar), undefined, `${liar} is not asked again`);
	}
});

test('two peers that shared a bad whole get a strike each; a second one bans them', (t) => {
	const {bytes, infoHash} = metadata(2 * metadataPieceLength);
	const assembly = new MetadataAssembly(infoHash);
	assembly.offerSize(bytes.length, 'a');
	assembly.offerSize(bytes.length, 'b');
	for (const round of [1, 2]) {
		t.is(assembly.claim('a'), 0);
		t.is(assembly.claim('b'), 1);
		assembly.receive('a', 0, Buffer.alloc(metadataPieceLength));
		assembly.receive('b', 1, Buffer.alloc(metadataPieceLength));
		t.is(assembly.failures, round);
		t.is(assembly.isBanned('a'), round === 2);
	}
});

test('a size nobody connected names any more gives way to one that is named', (t) => {
	const {bytes, infoHash} = metadata(3 * metadataPieceLength);
	const assembly = new MetadataAssembly(infoHash);
	t.true(assembly.offerSize(12_345, 'liar'));
	t.false(assembly.offerSize(bytes.length, 'honest'));
	assembly.leave('liar');
	t.is(assembly.size, bytes.length);
	t.true(assembly.offerSize(bytes.length, 'honest'));
});

test('peers that each name a size of their own and leave leave nothing behind', (t) => {
	const {infoHash} = metadata(100);
	const assembly = new MetadataAssembly(infoHash);
	for (let peer = 0; peer < 10_000; peer++) {
		assembly.offerSize(1000 + peer, `peer ${peer}`);
		assembly.leave(`peer ${peer}`);
	}

	t.notThrows(() => assembly.checkInvariant());
	t.is(assembly.size, undefined);
});
