import {asyncScheduler, concat, defer, finalize, map, mergeMap, type Observable, of, throwError} from 'rxjs';
import {PeerProtocolError} from '../errors.js';
import type {RunEvent} from '../events/events.js';
import {convictLiars, rememberSuspects} from './blame.js';
import type {SwarmContext, SwarmPorts} from './peer-session.js';
import type {PieceProgress} from './piece-progress.js';

/**
 * Hashes a finished piece; a good one is written and counted (and convicts whoever sent a bad
 * block of an earlier copy), a bad one is a strike against whoever sent it. A peer found to have
 * lied is banned, and its session ends at its next piece.
 */
export function verifyAndStore(
	piece: PieceProgress,
	peer: string,
	ports: SwarmPorts,
	context: SwarmContext,
): Observable<RunEvent> {
	const {picker} = context;
	let settled = false;
	if (context.banned.has(peer)) {
		picker.markFailed(piece.index);
		return throwError(() => new PeerProtocolError('sent blocks that failed the hash check'));
	}

	return ports.hashPiece(piece.data).pipe(
		mergeMap((digest): Observable<RunEvent> => {
			if (context.pieceHashes.matches(piece.index, digest)) {
				for (const liar of convictLiars(piece.index, piece.data, context.suspects)) {
					context.strikes.set(liar, context.maxStrikes);
					context.banned.add(liar);
				}

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
			// Sent by one peer, the piece convicts it; sent by several, it only makes them suspects.
			let strikesOfThisPeer = context.strikes.get(peer) ?? 0;
			if (piece.contributors.size === 1) {
				strikesOfThisPeer++;
				context.strikes.set(peer, strikesOfThisPeer);
			} else {
				rememberSuspects(piece, context.suspects);
			}

			picker.markFailed(piece.index);
			picker.recycle(piece);

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
