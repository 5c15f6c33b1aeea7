import {filter, type MonoTypeOperatorFunction} from 'rxjs';
import type {PeerMessage} from '../codec/messages.js';
import {PeerProtocolError} from '../errors.js';

/**
 * BEP 6's messages mean something only when both sides set the fast bit (ours always is). As
 * libtorrent does, a peer that sends one without it is dropped: a have-all walks every piece.
 */
const fastMessages: ReadonlySet<string> = new Set([
	'suggest',
	'have-all',
	'have-none',
	'reject',
	'allowed-fast',
]);

/**
 * Passes the peer's messages on, failing with a `PeerProtocolError` at the first BEP 6 message
 * from a peer whose handshake did not set the fast bit (`fast` false).
 */
export function refuseFastMessagesUnlessAgreed(fast: boolean): MonoTypeOperatorFunction<PeerMessage> {
	return filter((message) => {
		if (!fast && fastMessages.has(message.type)) {
			throw new PeerProtocolError(`${message.type} without the fast extension (BEP 6)`);
		}

		return true;
	});
}
