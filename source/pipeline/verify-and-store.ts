import {asyncScheduler, concat, defer, finalize, map, mergeMap, type Observable, of} from 'rxjs';
import {PeerProtocolError} from '../errors.js';
import type {RunEvent} from '../events/events.js';
import type {SwarmContext, SwarmPorts} from './peer-session.js';
import type {PieceProgress} from './piece-progress.js';

/** Hashes a finished piece; a good one is written and counted, a bad one is a strike against whoever sent it. */
export function verifyAndStore(
	piece: PieceProgress,
	peer: string,
	ports: SwarmPorts,
	context: SwarmContext,
): Observable<RunEvent> {
	const {picker} = context;
	let settled = false;
	return ports.hashPiece(piece.data).pipe(
		mergeMap((digest): Observable<RunEvent> => {
			if (digest.equals(context.pieceHashes[piece.index] ?? Buffer.alloc(0))) {
				return ports.store.writePiece(piece.index, piece.data).pipe(
					map((): RunEvent => {
						settled = true;
						picker.markDone(piece.index);
						// Written: the buffer can carry the next piece. (Never on teardown, while a write may be running.)
						picker.recycle(piece);
						const now = (context.scheduler ?? asyncScheduler).now();
						return {
							type: 'piece-verified',
							peer,
							index: piece.index,
							bytes: piece.length,
							durationMs: now - (piece.startedAt ?? now),
						};
					}),
					mergeMap((verified) =>
						picker.complete
							? of(verified, {type: 'completed', bytes: picker.doneBytes} as const)
							: of(verified),
					),
				);
			}

			settled = true;
			picker.markFailed(piece.index);
			picker.recycle(piece);
			let strikesOfThisPeer = 0;
			for (const contributor of piece.contributors) {
				const strikes = (context.strikes.get(contributor) ?? 0) + 1;
				context.strikes.set(contributor, strikes);
				if (contributor === peer) {
					strikesOfThisPeer = strikes;
				}
			}

			const failed: RunEvent = {type: 'piece-failed', peer, index: piece.index, strikes: strikesOfThisPeer};
			if (strikesOfThisPeer >= context.maxStrikes) {
				context.banned.add(peer);
				return concat(
					of(failed),
					defer(() => {
						throw new PeerProtocolError(`sent ${strikesOfThisPeer} pieces that failed the hash check`);
					}),
				);
			}

			return of(failed);
		}),
		finalize(() => {
			// Torn down before the piece was written (the peer went away, the run stopped): fetch it again.
			if (!settled) {
				picker.markFailed(piece.index);
			}
		}),
	);
}
