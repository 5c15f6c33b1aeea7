import {asyncScheduler, concat, defer, finalize, type Observable, of} from 'rxjs';
import type {PeerSource, RunEvent} from '../events/events.js';
import type {PeerWire} from '../peer/transport.js';
import {withResource} from '../rx/with-resource.js';
import type {PeerStats, SwarmContext, SwarmPorts} from '../swarm/swarm-context.js';
import {refuseFastMessagesUnlessAgreed} from './fast-messages.js';
import {sayGoodbye} from './goodbye.js';
import {admitToSwarm} from './handshake-checks.js';
import {handshakeStep} from './handshake-step.js';
import {messageExchange} from './message-exchange.js';
import {openingMessages} from './opening-messages.js';
import {sendMessages} from './send-messages.js';

/** The largest message we accept: a bitfield for this torrent, or a 128 KiB block with its header. */
function maxMessageLength(pieceCount: number): number {
	return Math.max(1 + Math.ceil(pieceCount / 8), 9 + 128 * 1024);
}

/**
 * Everything about one peer, from connect to disconnect, as a stream of events: both handshakes,
 * our bitfield, the download stage (with verification and storage of what it sends) and the
 * serving stage, side by side on one wire. `wire$` dials out, or hands over an accepted
 * connection. Any failure ends this peer only, as a `peer-disconnected` event carrying the
 * reason; the swarm goes on.
 */
export function peerSession(
	peer: string,
	wire$: Observable<PeerWire>,
	ports: SwarmPorts,
	context: SwarmContext,
	source: PeerSource = 'tracker',
): Observable<RunEvent> {
	const {settings, shared} = context;
	const stats: PeerStats = {interested: false, uploaded: 0, unreported: 0, downloaded: 0, snubbed: false};
	const handshake = {
		infoHash: settings.infoHash,
		peerId: settings.peerId,
		dialling: source !== 'incoming',
		maxMessageLength: maxMessageLength(shared.picker.pieceCount),
		handshakeTimeoutMs: settings.handshakeTimeoutMs,
		scheduler: settings.scheduler ?? asyncScheduler,
		check: admitToSwarm(peer, context),
	};
	const session$ = withResource(wire$, (wire) => {
		const send = sendMessages(wire);
		return handshakeStep(wire, handshake, ({capabilities, messages$}) => {
			shared.peers.set(peer, stats);
			return concat(
				of<RunEvent>({
					type: 'peer-connected',
					peer,
					peerId: capabilities.peerId.toString('latin1'),
					protection: wire.protection ?? 'plaintext',
				}),
				defer(() => {
					for (const message of openingMessages(capabilities, shared.picker, settings)) {
						send([message]);
					}

					return messages$.pipe(
						refuseFastMessagesUnlessAgreed(capabilities.fast),
						messageExchange({peer, capabilities, wire, send, ports, context, stats}),
					);
				}),
			);
		}).pipe(
			finalize(() => {
				if (shared.peers.get(peer) === stats) {
					shared.peers.delete(peer);
					shared.interestChanged();
				}
			}),
		);
	});
	return concat(
		of<RunEvent>({type: 'peer-connecting', peer, source}),
		session$.pipe(sayGoodbye(peer, stats)),
	);
}
