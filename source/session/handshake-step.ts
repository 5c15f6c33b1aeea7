import {connect, defer, filter, mergeMap, type Observable, type SchedulerLike, take} from 'rxjs';
import {
	encodeHandshake,
	type Handshake,
	ourReservedBytes,
	supportsExtensionProtocol,
	supportsFastExtension,
} from '../codec/handshake.js';
import type {PeerMessage} from '../codec/messages.js';
import {PeerProtocolError} from '../errors.js';
import {frameWire, handshakeWithin, type WireFrame} from '../peer/framer.js';
import type {PeerWire} from '../peer/transport.js';

/** What the peer's handshake said about it: who it is and which extensions it speaks. */
export type PeerCapabilities = {
	peerId: Buffer;
	/** The extension protocol (BEP 10). */
	extended: boolean;
	/** The fast extension (BEP 6); ours is always set, so both sides agree on it when this is. */
	fast: boolean;
};

/** The peer's handshake accepted: its capabilities, and every message it sends after it. */
export type Handshaken = {capabilities: PeerCapabilities; messages$: Observable<PeerMessage>};

/** Throws a `PeerProtocolError` if the peer's handshake ends the session (another torrent, ourselves, a ban). */
export type HandshakeCheck = (theirs: Handshake) => void;

export type HandshakeStepOptions = {
	/** Ours: the torrent, and who we are. */
	infoHash: Buffer;
	peerId: Buffer;
	/** We dialled out (ours goes first), or a caller dialled us (ours waits for theirs). */
	dialling: boolean;
	/** The largest message the framer lets through; a longer length prefix is a protocol error. */
	maxMessageLength: number;
	handshakeTimeoutMs: number;
	scheduler: SchedulerLike;
	check: HandshakeCheck;
};

/** The capabilities a handshake's reserved bytes announce. */
export function capabilitiesOf(handshake: Handshake): PeerCapabilities {
	return {
		peerId: handshake.peerId,
		extended: supportsExtensionProtocol(handshake.reserved),
		fast: supportsFastExtension(handshake.reserved),
	};
}

const isMessage = (frame: WireFrame): frame is PeerMessage => frame.type !== 'handshake';

/**
 * Both handshakes on `wire` (BEP 3), then `session` with what the peer's said and the messages
 * after it. Dialling out, ours goes at once: BEP 3 has the initiator send first. Answering, a
 * caller hears ours only once its own has passed `check`: sent at once, it told any port
 * scanner what we are downloading. The peer's must come within `handshakeTimeoutMs`.
 *
 * A continuation rather than an emitted value: the messages are hot, and only a subscriber
 * already there while the handshake is emitted sees the messages that came in the same chunk.
 * `session` is called during that emission, so whatever it subscribes to synchronously misses
 * nothing. The socket is subscribed once, shared by the check and `session`, and let go when
 * `session`'s Observable ends or is unsubscribed.
 */
export function handshakeStep<T>(
	wire: PeerWire,
	options: HandshakeStepOptions,
	session: (handshaken: Handshaken) => Observable<T>,
): Observable<T> {
	return defer(() => {
		const sendOurs = () =>
			wire.send(
				encodeHandshake({reserved: ourReservedBytes(), infoHash: options.infoHash, peerId: options.peerId}),
			);
		if (options.dialling) {
			sendOurs();
		}

		return wire.incoming$.pipe(
			frameWire(options.maxMessageLength),
			handshakeWithin(options.handshakeTimeoutMs, options.scheduler),
			connect((frames) =>
				frames.pipe(
					take(1),
					mergeMap((frame) => {
						if (frame.type !== 'handshake') {
							throw new PeerProtocolError('no handshake');
						}

						options.check(frame.handshake);
						if (!options.dialling) {
							sendOurs();
						}

						// Nothing but our handshake has gone out before the peer's: BEP 3 puts the bitfield
						// after both, and aria2 drops a connection that sends more before its handshake.
						return session({
							capabilities: capabilitiesOf(frame.handshake),
							messages$: frames.pipe(filter(isMessage)),
						});
					}),
				),
			),
		);
	});
}
