import test from 'ava';
import {EMPTY} from 'rxjs';
import {Bitfield} from '../../source/codec/bitfield.js';
import {verifyCompleted} from '../../source/verify/verify-completed.js';
import {makeTorrent} from '../helpers/fake-peer.js';
import {testScheduler} from '../helpers/marbles.js';
import {swarmContext} from '../helpers/swarm-context.js';

const torrent = makeTorrent(2 * 16 * 1024, 16 * 1024);

test('a completed piece from any kind of source is verified by its key; everything else passes at once', (t) => {
	const context = swarmContext(torrent);
	const {picker} = context.shared;
	const everything = new Bitfield(torrent.pieces.length);
	everything.setAll();
	const piece = picker.pick(everything);
	if (!piece) {
		throw new Error('nothing to pick');
	}

	torrent.pieces[piece.index]?.copy(piece.data);
	piece.contributors.add('webseed:http://127.0.0.1/');
	testScheduler(t).run(({cold, hot, expectObservable, expectSubscriptions}) => {
		const verdict$ = cold('--(p|)', {p: true});
		const write$ = cold<void>('-|');
		const activity$ = hot('a-b----|', {
			a: {type: 'piece-started' as const},
			b: {type: 'piece-complete' as const, piece},
		});
		const ports = {
			verifyPiece: () => verdict$,
			store: {preexisting: [], writePiece: () => write$, readPiece: () => EMPTY},
		};
		expectObservable(activity$.pipe(verifyCompleted('webseed:http://127.0.0.1/', ports, context))).toBe(
			'a----v-|',
			{
				a: {type: 'piece-started'},
				v: {
					type: 'piece-verified',
					peer: 'webseed:http://127.0.0.1/',
					index: piece.index,
					bytes: piece.length,
					durationMs: 5 - (piece.startedAt ?? 5),
				},
			},
		);
		expectSubscriptions(verdict$.subscriptions).toBe('--^-!');
		expectSubscriptions(write$.subscriptions).toBe('----^!');
	});
	t.true(picker.isDone(piece.index));
});
