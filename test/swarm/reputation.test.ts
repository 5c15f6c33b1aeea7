import test from 'ava';
import {PieceProgress} from '../../source/download/piece-progress.js';
import {PeerReputation} from '../../source/swarm/reputation.js';

const kib16 = 16 * 1024;

/** A piece of two blocks, block `n` sent by `senders[n]` with `contents[n]` in every byte. */
function pieceFrom(senders: string[], contents: number[]): PieceProgress {
	const piece = new PieceProgress(7, 2 * kib16);
	for (const [block, sender] of senders.entries()) {
		piece.claimBlock();
		piece.receive(block * kib16, Buffer.alloc(kib16, contents[block]), sender);
	}

	return piece;
}

test('strikes add up per peer, and the last one bans it', (t) => {
	const reputation = new PeerReputation(3);
	t.is(reputation.strike('a'), 1);
	t.is(reputation.strike('a'), 2);
	t.false(reputation.isBanned('a'));
	t.is(reputation.strike('a'), 3);
	t.true(reputation.isBanned('a'));
	t.is(reputation.strikesOf('b'), 0);
	t.false(reputation.isBanned('b'));
});

test('a banned peer calling from another address is known by its peer id; others are admitted and remembered', (t) => {
	const reputation = new PeerReputation(1);
	t.deepEqual(reputation.admit('1.2.3.4:1000', 'liar'), {admitted: true});
	reputation.strike('1.2.3.4:1000');
	t.deepEqual(reputation.admit('1.2.3.4:2000', 'liar'), {
		admitted: false,
		reason: 'banned (as 1.2.3.4:1000)',
	});
	t.deepEqual(reputation.admit('5.6.7.8:1000', 'honest'), {admitted: true});
});

test('a failed piece from one sender is a strike; from several, only suspicion, until a good copy convicts the liar', (t) => {
	const reputation = new PeerReputation(3);
	t.is(reputation.pieceFailed(pieceFrom(['solo', 'solo'], [1, 2]), 'solo'), 1);
	t.is(reputation.pieceFailed(pieceFrom(['honest', 'liar'], [1, 0xee]), 'honest'), 0);
	t.false(reputation.isBanned('liar'));
	reputation.piecePassed(7, pieceFrom(['honest', 'honest'], [1, 2]).data);
	t.true(reputation.isBanned('liar'));
	t.is(reputation.strikesOf('liar'), 3);
	t.false(reputation.isBanned('honest'));
});

test('our own address is remembered as ours', (t) => {
	const reputation = new PeerReputation(3);
	t.false(reputation.isOurs('9.9.9.9:6881'));
	reputation.markOurs('9.9.9.9:6881');
	t.true(reputation.isOurs('9.9.9.9:6881'));
});
