import type {Handshake} from '../codec/handshake.js';
import {PeerProtocolError} from '../errors.js';
import type {SwarmContext} from '../swarm/swarm-context.js';
import type {HandshakeCheck} from './handshake-step.js';

/** A handshake passes if it names `infoHash`: the metadata fetch asks nothing more. */
export function forTorrent(infoHash: Buffer): HandshakeCheck {
	return (theirs: Handshake) => {
		if (!theirs.infoHash.equals(infoHash)) {
			throw new PeerProtocolError('handshake for another torrent');
		}
	};
}

/**
 * A swarm's check of `peer`'s handshake: our torrent, not our own peer id (then the address is
 * ours, and never dialled again), and not a banned peer under a new address.
 */
export function admitToSwarm(peer: string, context: SwarmContext): HandshakeCheck {
	const sameTorrent = forTorrent(context.settings.infoHash);
	return (theirs: Handshake) => {
		sameTorrent(theirs);
		if (theirs.peerId.equals(context.settings.peerId)) {
			context.reputation.markOurs(peer);
			throw new PeerProtocolError('connected to ourselves');
		}

		const admission = context.reputation.admit(peer, theirs.peerId.toString('hex'));
		if (!admission.admitted) {
			throw new PeerProtocolError(admission.reason);
		}
	};
}
