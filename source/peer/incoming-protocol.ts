import {asyncScheduler, map, type OperatorFunction, switchMap} from 'rxjs';
import {cryptoPlaintext, cryptoRc4, req2Hash} from '../codec/mse-crypto.js';
import {PeerProtocolError} from '../errors.js';
import {type EncryptedStreamOptions, encryptedStream} from './encrypted-stream.js';
import {IncomingHandshake} from './incoming-handshake.js';
import {KeyExchangeBudget} from './key-exchange-budget.js';
import type {IncomingPeer} from './listener.js';
import {MseReceiver} from './mse-receiver.js';

/** Key exchanges with callers: 100 a second, 50 at once after a quiet spell. */
const defaultKeyExchanges = {perSecond: 100, burst: 50};

export type IncomingProtocols = {
	/** Plaintext callers are taken (false: encryption required). */
	plaintext: boolean;
	/** MSE/PE callers are taken (false: encryption off). */
	encrypted: boolean;
};

/**
 * Each incoming connection's wire through `IncomingHandshake`, for the torrents `infoHashes`:
 * a plaintext caller goes on as before, an MSE/PE one (WebTorrent's and libtorrent's first try,
 * a "require encryption" client's only one) is answered. Offered both, the caller gets
 * plaintext, as libtorrent's answer is by default: the handshake is still obfuscated, and the
 * pieces cost no RC4; offered RC4 alone, or when plaintext is not taken, RC4. Key exchanges
 * come out of `keyExchanges` (by default 100 a second): a caller past it is turned away before
 * any Diffie-Hellman work is done for it.
 */
export function acceptingProtocols(
	protocols: IncomingProtocols,
	infoHashes: readonly Buffer[],
	options: EncryptedStreamOptions & {keyExchanges?: KeyExchangeBudget},
): OperatorFunction<IncomingPeer, IncomingPeer> {
	const served = new Map(infoHashes.map((infoHash) => [req2Hash(infoHash).toString('hex'), infoHash]));
	const choose = (provided: number) =>
		protocols.plaintext && provided & cryptoPlaintext ? cryptoPlaintext : provided & cryptoRc4;
	const scheduler = options.scheduler ?? asyncScheduler;
	const budget =
		options.keyExchanges ?? new KeyExchangeBudget({...defaultKeyExchanges, now: () => scheduler.now()});
	const receiver = () => {
		if (!budget.take()) {
			throw new PeerProtocolError(
				`more than ${budget.perSecond} MSE/PE callers a second: this one is turned away`,
			);
		}

		return new MseReceiver({served, choose});
	};
	const handshake = () =>
		new IncomingHandshake({
			plaintext: protocols.plaintext,
			...(protocols.encrypted ? {encrypted: receiver} : {}),
		});
	return map((incoming) => ({
		...incoming,
		wire$: incoming.wire$.pipe(switchMap((wire) => encryptedStream(wire, handshake(), options))),
	}));
}
