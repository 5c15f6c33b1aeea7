import {asyncScheduler, Observable, type Subscription, throwError} from 'rxjs';
import type {PieceProgress} from '../download/piece-progress.js';
import {PeerProtocolError} from '../errors.js';
import type {RunEvent} from '../events/events.js';
import {subscribeChained} from '../rx/chained-subscriber.js';
import type {SwarmContext, SwarmPorts, SwarmSettings} from '../swarm/swarm-context.js';

/**
 * Verifies a finished piece; a good one is written and counted (and convicts whoever sent a bad
 * block of an earlier copy), a bad one is a strike against whoever sent it. A peer found to have
 * lied is banned, and its session ends at its next piece.
 */
export function verifyAndStore(
	piece: PieceProgress,
	peer: string,
	ports: Pick<SwarmPorts, 'verifyPiece' | 'store'>,
	context: Pick<SwarmContext, 'shared' | 'reputation'> & {settings: Pick<SwarmSettings, 'scheduler'>},
): Observable<RunEvent> {
	const {picker} = context.shared;
	const {reputation} = context;
	if (reputation.isBanned(peer)) {
		picker.markFailed(piece.index);
		// Thrown away, its buffer can carry the next piece.
		picker.recycle(piece);
		return throwError(() => new PeerProtocolError('sent blocks that failed the hash check'));
	}

	// One hand-written Observable rather than a chain of operators: this runs once per piece, and
	// with 100,000 small pieces the chain's subscribers were a tenth of all allocation.
	return new Observable<RunEvent>((subscriber) => {
		let settled = false;
		let verified = false;
		let writing: Subscription | undefined;
		// Chained: a consumer that lets go stops even a hash source that answers synchronously.
		subscribeChained(ports.verifyPiece(piece.index, piece.data), subscriber, {
			next(passed) {
				verified = true;
				if (!passed) {
					settled = true;
					const strikes = reputation.pieceFailed(piece, peer);
					picker.markFailed(piece.index);
					picker.recycle(piece);
					subscriber.next({type: 'piece-failed', peer, index: piece.index, strikes});
					if (reputation.isBanned(peer)) {
						subscriber.error(new PeerProtocolError(`sent ${strikes} pieces that failed the hash check`));
					} else {
						subscriber.complete();
					}

					return;
				}

				reputation.piecePassed(piece.index, piece.data);
				writing = ports.store.writePiece(piece.index, piece.data).subscribe({
					error: (error: unknown) => subscriber.error(error),
					complete() {
						settled = true;
						picker.markDone(piece.index);
						// Written: the buffer can carry the next piece. (Never on teardown, while a write may be running.)
						picker.recycle(piece);
						const now = (context.settings.scheduler ?? asyncScheduler).now();
						subscriber.next({
							type: 'piece-verified',
							peer,
							index: piece.index,
							bytes: picker.userBytes(piece.index),
							durationMs: now - (piece.startedAt ?? now),
						});
						if (picker.complete) {
							subscriber.next({type: 'completed', bytes: picker.doneBytes});
						}

						subscriber.complete();
					},
				});
			},
			error: (error: unknown) => subscriber.error(error),
			complete() {
				if (!verified) {
					subscriber.complete();
				}
			},
		});
		return () => {
			writing?.unsubscribe();
			// Torn down before the piece was written (the peer went away, the run stopped): fetch it again.
			if (!settled) {
				picker.markFailed(piece.index);
			}
		};
	});
}
