import {connect, EMPTY, map, merge, type OperatorFunction} from 'rxjs';
import type {PeerMessage} from '../codec/messages.js';
import {downloadFromPeer} from '../download/download-from-peer.js';
import type {RunEvent} from '../events/events.js';
import type {PeerWire} from '../peer/transport.js';
import {serveToPeer} from '../serve/serve-to-peer.js';
import type {PeerStats, SwarmContext, SwarmPorts} from '../swarm/swarm-context.js';
import {verifyCompleted} from '../verify/verify-completed.js';
import {answerExtensions} from './extension-messages.js';
import type {PeerCapabilities} from './handshake-step.js';

/** One connected peer, as the exchange sees it. */
export type ExchangeParties = {
	peer: string;
	capabilities: PeerCapabilities;
	wire: PeerWire;
	/** Writes whole messages to the wire, several in one write. */
	send: (messages: PeerMessage[]) => void;
	ports: SwarmPorts;
	context: SwarmContext;
	/** What the session shares with the swarm about this peer (the choker reads it). */
	stats: PeerStats;
};

/**
 * The exchange with a peer whose handshake is in: the download stage (each piece it completes
 * verified and stored), the serving stage, and the BEP 10 extensions, side by side on the one
 * stream of the peer's messages (subscribed once, shared by the three).
 */
export function messageExchange({
	peer,
	capabilities,
	wire,
	send,
	ports,
	context,
	stats,
}: ExchangeParties): OperatorFunction<PeerMessage, RunEvent> {
	const {settings, shared} = context;
	const {picker} = shared;
	const optionalScheduler = settings.scheduler ? {scheduler: settings.scheduler} : {};
	return connect((messages$) =>
		merge(
			messages$.pipe(
				downloadFromPeer({
					peer,
					picker,
					window: settings.window,
					tickMs: settings.tickMs,
					stats,
					send,
					...optionalScheduler,
				}),
				verifyCompleted(peer, ports, context),
			),
			messages$.pipe(
				serveToPeer({
					peer,
					pieceCount: picker.pieceCount,
					pieceSize: settings.pieceSize,
					have: (index) => picker.isDone(index),
					readBlock: ports.readBlock,
					...(ports.peekBlock ? {peekBlock: ports.peekBlock} : {}),
					send: wire.send,
					drained$: wire.drained$,
					unchoked$: shared.unchoked$.pipe(map((unchoked) => unchoked.has(peer))),
					stats,
					totals: shared.totals,
					interestChanged: shared.interestChanged,
					maxQueuedRequests: settings.maxQueuedRequests,
					fast: capabilities.fast,
					reportMs: settings.tickMs,
					...optionalScheduler,
				}),
			),
			// Extension messages mean something only from a peer that said it speaks them (BEP 10).
			capabilities.extended
				? messages$.pipe(
						answerExtensions({
							peer,
							send: (message) => send([message]),
							...(settings.infoBytes ? {infoBytes: settings.infoBytes} : {}),
							maxMetadataRequests: 1000,
							...(settings.pex ? {pex: settings.pex} : {}),
							...optionalScheduler,
						}),
					)
				: EMPTY,
		),
	);
}
