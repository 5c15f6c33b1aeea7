import type {OperatorFunction} from 'rxjs';
import type {PieceProgress} from '../download/piece-progress.js';
import type {RunEvent} from '../events/events.js';
import {mergeMapWhere} from '../rx/merge-map-where.js';
import type {SwarmPorts} from '../swarm/swarm-context.js';
import {verifyAndStore} from './verify-and-store.js';

/** A source of pieces finished one: every block is in, from whoever sent it. */
export type PieceCompleted = {type: 'piece-complete'; piece: PieceProgress};

/**
 * Verifies and stores each piece a source completes, and lets everything else it emits pass.
 * The source is named only by its key (`source`): a peer on the wire today, and soon a web seed
 * (BEP 19) is verified, struck and banned by the same rules without speaking the peer wire.
 */
export function verifyCompleted<T extends {type: string}>(
	source: string,
	ports: Pick<SwarmPorts, 'verifyPiece' | 'store'>,
	context: Parameters<typeof verifyAndStore>[3],
): OperatorFunction<T, Exclude<T, Extract<T, PieceCompleted>> | RunEvent> {
	return mergeMapWhere(
		(value: T): value is Extract<T, PieceCompleted> => value.type === 'piece-complete',
		(completed) => verifyAndStore(completed.piece, source, ports, context),
	);
}
