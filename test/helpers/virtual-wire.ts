import {asyncScheduler, NEVER, type Subject} from 'rxjs';
import type {PeerWire} from '../../source/peer/transport.js';

/**
 * One end of an in-memory connection: it reads `inbox`, and what it sends reaches `outbox` a
 * millisecond later (virtual inside `TestScheduler.run`), copied, and is logged in `sent` too.
 */
export function oneMillisecondApart(
	inbox: Subject<Buffer>,
	outbox: Subject<Buffer>,
	sent?: Buffer[],
): PeerWire {
	return {
		incoming$: inbox,
		send(bytes) {
			const copy = Buffer.from(bytes);
			sent?.push(copy);
			asyncScheduler.schedule(() => outbox.next(Buffer.from(copy)), 1);
			return true;
		},
		drained$: NEVER,
	};
}
