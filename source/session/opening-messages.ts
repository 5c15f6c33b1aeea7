import type {Bitfield} from '../codec/bitfield.js';
import {encodeExtendedHandshake} from '../codec/extension-protocol.js';
import type {PeerMessage} from '../codec/messages.js';
import type {SwarmSettings} from '../swarm/swarm-context.js';
import type {PeerCapabilities} from './handshake-step.js';

/** The pieces we have (a `PiecePicker` is one). */
export type WhatWeHave = {readonly complete: boolean; readonly have: Bitfield};

/** The settings our extended handshake tells (BEP 10). */
export type OpeningSettings = Pick<
	SwarmSettings,
	'clientName' | 'listenPort' | 'maxQueuedRequests' | 'infoBytes' | 'pex'
>;

/**
 * What we send once both handshakes are in, in order: what we have, then our extended
 * handshake to a peer that speaks BEP 10.
 *
 * A seed says it in one byte, have-all, to a peer with the fast extension (BEP 6); otherwise a
 * bitfield, if we have anything. No pieces means no message at all, as in BEP 3: after a
 * have-none, libtorrent 2.0.8 seeders closed the connection, and their port, in about one run
 * in five of the PEX interop test; without it, never.
 */
export function openingMessages(
	capabilities: Pick<PeerCapabilities, 'extended' | 'fast'>,
	ours: WhatWeHave,
	settings: OpeningSettings,
): PeerMessage[] {
	const messages: PeerMessage[] = [];
	if (capabilities.fast && ours.complete) {
		messages.push({type: 'have-all'});
	} else if (ours.have.count > 0) {
		messages.push({type: 'bitfield', bitfield: ours.have.bytes});
	}

	if (capabilities.extended) {
		messages.push({
			type: 'extended',
			extension: 0,
			payload: encodeExtendedHandshake({
				client: settings.clientName,
				port: settings.listenPort,
				requestQueue: settings.maxQueuedRequests,
				...(settings.infoBytes ? {metadataSize: settings.infoBytes.length} : {}),
				withPex: settings.pex !== undefined,
			}),
		});
	}

	return messages;
}
