import {map, type OperatorFunction, switchMap} from 'rxjs';
import {cryptoPlaintext, cryptoRc4, req2Hash} from '../codec/mse-crypto.js';
import {type EncryptedStreamOptions, encryptedStream} from './encrypted-stream.js';
import {IncomingHandshake} from './incoming-handshake.js';
import type {IncomingPeer} from './listener.js';
import {MseReceiver} from './mse-receiver.js';

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
 * pieces cost no RC4; offered RC4 alone, or when plaintext is not taken, RC4.
 */
export function acceptingProtocols(
	protocols: IncomingProtocols,
	infoHashes: readonly Buffer[],
	options: EncryptedStreamOptions,
): OperatorFunction<IncomingPeer, IncomingPeer> {
	const served = new Map(infoHashes.map((infoHash) => [req2Hash(infoHash).toString('hex'), infoHash]));
	const choose = (provided: number) =>
		protocols.plaintext && provided & cryptoPlaintext ? cryptoPlaintext : provided & cryptoRc4;
	const handshake = () =>
		new IncomingHandshake({
			plaintext: protocols.plaintext,
			...(protocols.encrypted ? {encrypted: () => new MseReceiver({served, choose})} : {}),
		});
	return map((incoming) => ({
		...incoming,
		wire$: incoming.wire$.pipe(switchMap((wire) => encryptedStream(wire, handshake(), options))),
	}));
}
