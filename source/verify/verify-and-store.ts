import {asyncScheduler, Observable, type Subscription, throwError} from 'rxjs';
import type {PieceProgress} from '../download/piece-progress.js';
import {PeerProtocolError} from '../errors.js';
import type {RunEvent} from '../events/events.js';
import {subscribeChained} from '../rx/chained-subscriber.js';
import type {SwarmContext, SwarmPorts} from '../session/peer-session.js';
import {convictLiars, rememberSuspects} from '../swarm/blame.js';

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
	if (context.banned.has(peer)) {
		picker.markFailed(piece.index);
		// Thrown away, its buffer can carry the next piece.
		picker.recycle(piece);
		return throwError(() => new PeerProtocolError('sent blocks that failed the hash check'));
	}

	// One hand-written Observable rather than a chain of operators: this runs once per piece, and
	// with 100,000 small pieces the chain's subscribers were a tenth of all allocation.
	return new Observable<RunEvent>((subscriber) => {
		let settled = false;
		let hashed = false;
		let writing: Subscription | undefined;
		// Chained: a consumer that lets go stops even a hash source that answers synchronously.
		subscribeChained(ports.hashPiece(piece.data), subscriber, {
			next(digest) {
				hashed = true;
				if (!context.pieceHashes.matches(piece.index, digest)) {
					settled = true;
					const {event, strikes} = strikeFor(piece, peer, context);
					subscriber.next(event);
					if (strikes >= context.maxStrikes) {
						context.banned.add(peer);
						subscriber.error(new PeerProtocolError(`sent ${strikes} pieces that failed the hash check`));
					} else {
						subscriber.complete();
					}

					return;
				}

				for (const liar of convictLiars(piece.index, piece.data, context.suspects)) {
					context.strikes.set(liar, context.maxStrikes);
					context.banned.add(liar);
				}

				writing = ports.store.writePiece(piece.index, piece.data).subscribe({
					error: (error: unknown) => subscriber.error(error),
					complete() {
						settled = true;
						picker.markDone(piece.index);
						// Written: the buffer can carry the next piece. (Never on teardown, while a write may be running.)
						picker.recycle(piece);
						const now = (context.scheduler ?? asyncScheduler).now();
						subscriber.next({
							type: 'piece-verified',
							peer,
							index: piece.index,
							bytes: piece.length,
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
				if (!hashed) {
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

/** A piece that failed its hash: sent by one peer, it convicts it; sent by several, it only makes them suspects. */
function strikeFor(
	piece: PieceProgress,
	peer: string,
	context: SwarmContext,
): {event: RunEvent; strikes: number} {
	let strikes = context.strikes.get(peer) ?? 0;
	if (piece.contributors.size === 1) {
		strikes++;
		context.strikes.set(peer, strikes);
	} else {
		rememberSuspects(piece, context.suspects);
	}

	context.picker.markFailed(piece.index);
	context.picker.recycle(piece);
	return {event: {type: 'piece-failed', peer, index: piece.index, strikes}, strikes};
}
