import test from 'ava';
import {PieceProgress} from '../../source/download/piece-progress.js';
import {convictLiars, rememberSuspects, type SuspectBlock} from '../../source/swarm/blame.js';

const kib16 = 16 * 1024;

/** A piece of three blocks, block `n` sent by `senders[n]` with `contents[n]` in every byte. */
function pieceFrom(senders: string[], contents: number[]): PieceProgress {
	const piece = new PieceProgress(5, 3 * kib16);
	for (const [block, sender] of senders.entries()) {
		piece.claimBlock();
		piece.receive(block * kib16, Buffer.alloc(kib16, contents[block]), sender);
	}

	return piece;
}

test('a failed piece from several peers is remembered block by block; the good copy convicts only the liar', (t) => {
	const suspects = new Map<number, SuspectBlock[]>();
	rememberSuspects(pieceFrom(['honest', 'liar', 'honest'], [1, 0xee, 3]), suspects);
	t.is(suspects.get(5)?.length, 3);
	const good = pieceFrom(['honest', 'honest', 'honest'], [1, 2, 3]);
	t.deepEqual(convictLiars(5, good.data, suspects), new Set(['liar']));
	t.false(suspects.has(5), 'judged once, then forgotten');
	t.deepEqual(convictLiars(5, good.data, suspects), new Set());
});

test('suspects are kept for a bounded number of pieces', (t) => {
	const suspects = new Map<number, SuspectBlock[]>();
	for (let index = 0; index < 1000; index++) {
		const piece = new PieceProgress(index, kib16);
		piece.claimBlock();
		piece.receive(0, Buffer.alloc(kib16), 'a');
		rememberSuspects(piece, suspects);
	}

	t.is(suspects.size, 256);
	t.true(suspects.has(999) && !suspects.has(0), 'the oldest go first');
});
