import type {Observable} from 'rxjs';
import type {PeerAddress} from '../codec/compact-peers.js';

/*
 * The byte-stream port the peer wire runs over. Everything above the framer (sessions, the
 * metadata fetch, the swarm) sees only this: TCP (`socket.ts`) is one implementation; an
 * encrypted stream (MSE/PE) wraps one and is another, and uTP will be a third.
 */

/** A connected peer's byte pipe, whichever side dialled. */
export type PeerWire = {
	/** Chunks as they arrive; completes when the peer closes, errors when the socket fails. Subscribe once. */
	incoming$: Observable<Buffer>;
	/** Queues bytes for the peer; false once the socket holds more than it should: wait for `drained$`. */
	send(bytes: Buffer): boolean;
	/** Emits when the socket has flushed what it held after `send` returned false. */
	drained$: Observable<void>;
	/**
	 * How the bytes travel: RC4-encrypted or as they are (MSE/PE, `encrypted-stream.ts`); an
	 * encrypted wire's handshake settles it before the first byte comes in. Absent: plaintext.
	 */
	readonly protection?: 'rc4' | 'plaintext' | undefined;
};

/**
 * Dials a peer. Emits one `PeerWire` once connected and never completes: the connection is a
 * resource, closed when the subscriber unsubscribes.
 */
export type ConnectPort = (peer: PeerAddress) => Observable<PeerWire>;
