import {catchError, defer, map, type OperatorFunction, switchMap, tap} from 'rxjs';
import {peerKey} from '../codec/compact-peers.js';
import {cryptoPlaintext, cryptoRc4} from '../codec/mse-crypto.js';
import {BoundedMap} from '../swarm/bounded-map.js';
import {type EncryptedStreamOptions, encryptedStream} from './encrypted-stream.js';
import type {IncomingProtocols} from './incoming-protocol.js';
import {NotTakenUp} from './mse-handshake.js';
import {MseInitiator} from './mse-initiator.js';
import type {ConnectPort, PeerWire} from './transport.js';

/**
 * `--encryption`: how far MSE/PE is used, both ways.
 * - prefer (the default): dial encrypted first, offering RC4 and plaintext as libtorrent does
 *   (the peer chooses; the handshake is obfuscated either way), and dial once more in plaintext
 *   at once if the peer hangs up on it. Callers of either kind are taken.
 * - require: RC4 only, both ways; never plaintext.
 * - allow: dial plaintext first, encrypted next time if the peer hung up on it without a word;
 *   callers of either kind are taken.
 * - off: plaintext only; MSE/PE callers are refused.
 */
export const encryptionPolicies = ['prefer', 'require', 'allow', 'off'] as const;
export type EncryptionPolicy = (typeof encryptionPolicies)[number];

/** What callers may speak under `policy`. */
export function incomingProtocolsFor(policy: EncryptionPolicy): IncomingProtocols {
	return {plaintext: policy !== 'require', encrypted: policy !== 'off'};
}

/** What worked with a peer, by address, so that a redial does not repeat a failed attempt. */
type Learned = 'plaintext' | 'encrypted';

/** Addresses remembered, at most: as many as the swarm keeps waiting (`max_peerlist_size`). */
const maxRemembered = 3000;

export type EncryptedDialOptions = EncryptedStreamOptions & {
	/** The torrent the dialled peers are asked for: MSE/PE's SKEY. */
	infoHash: Buffer;
};

/**
 * `connect` under `policy`: the same port, its wires encrypted as the policy says. What it
 * learns of each peer (a plaintext-only one that hung up on MSE/PE, a "require encryption" one
 * that hung up on plaintext) is kept for the next dial to it, within a bound.
 */
export function dialUnder(
	policy: EncryptionPolicy,
	connect: ConnectPort,
	options: EncryptedDialOptions,
): ConnectPort {
	if (policy === 'off') {
		return connect;
	}

	const learned = new BoundedMap<string, Learned>(maxRemembered);
	const encrypted = (peer: Parameters<ConnectPort>[0], provide: number) =>
		connect(peer).pipe(
			switchMap((wire) =>
				encryptedStream(wire, new MseInitiator({infoHash: options.infoHash, provide}), options),
			),
		);
	return (peer) =>
		defer(() => {
			const key = peerKey(peer);
			const known = learned.get(key);
			if (policy === 'require') {
				return encrypted(peer, cryptoRc4);
			}

			if (policy === 'allow' && known !== 'encrypted') {
				return connect(peer).pipe(whenHungUpSilently(() => learned.set(key, 'encrypted')));
			}

			if (policy === 'prefer' && known === 'plaintext') {
				return connect(peer);
			}

			return encrypted(peer, cryptoRc4 | cryptoPlaintext).pipe(
				catchError((error: unknown) => {
					if (policy !== 'prefer' || !(error instanceof NotTakenUp)) {
						throw error;
					}

					learned.set(key, 'plaintext');
					return connect(peer);
				}),
			);
		});
}

/**
 * Wires whose peer closes or resets before sending a single byte: what a client that requires
 * encryption does with a plaintext handshake. `hungUp` is told.
 */
function whenHungUpSilently(hungUp: () => void): OperatorFunction<PeerWire, PeerWire> {
	return map((wire) => {
		let heard = false;
		const silence = () => {
			if (!heard) {
				hungUp();
			}
		};
		const incoming$ = wire.incoming$.pipe(
			tap({
				next() {
					heard = true;
				},
				error: silence,
				complete: silence,
			}),
		);
		return {...wire, incoming$};
	});
}
