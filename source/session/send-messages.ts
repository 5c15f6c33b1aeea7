import {encodeMessage, type PeerMessage} from '../codec/messages.js';
import type {PeerWire} from '../peer/transport.js';

/** Writes messages to `wire` in one `send`: one buffer for one message, one concatenation for several. */
export function sendMessages(wire: PeerWire): (messages: PeerMessage[]) => void {
	return (messages) => {
		wire.send(
			messages.length === 1 && messages[0]
				? encodeMessage(messages[0])
				: Buffer.concat(messages.map(encodeMessage)),
		);
	};
}
