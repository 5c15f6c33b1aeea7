import {catchError, concat, defer, from, type Observable, type OperatorFunction, throwError} from 'rxjs';
import {describeError, StorageError} from '../errors.js';
import type {RunEvent} from '../events/events.js';

/**
 * Ends a peer's session with a `peer-disconnected` event however it ends: "connection closed"
 * when it completes, the error's description when it fails. A peer's misdeed ends its session;
 * a `StorageError` goes on failing the run instead: no peer can fix a failing disk.
 *
 * With `upload`, the upload not yet reported comes before the goodbye, as an `uploaded` event:
 * the totals and the announces count every byte sent, however the session ends.
 */
export function sayGoodbye<T>(
	peer: string,
	upload?: {unreported: number},
): OperatorFunction<T, T | RunEvent> {
	const ended = (reason: string): Observable<RunEvent> =>
		defer(() => {
			const bytes = upload?.unreported ?? 0;
			if (upload) {
				upload.unreported = 0;
			}

			const disconnected: RunEvent = {type: 'peer-disconnected', peer, reason};
			return from<RunEvent[]>(bytes > 0 ? [{type: 'uploaded', peer, bytes}, disconnected] : [disconnected]);
		});
	return (session$) =>
		concat(session$, ended('connection closed')).pipe(
			catchError((error: unknown) =>
				error instanceof StorageError ? throwError(() => error) : ended(describeError(error)),
			),
		);
}
