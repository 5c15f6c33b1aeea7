import type {LookupAddress} from 'node:dns';
import type {LookupFunction} from 'node:net';
import {WebSeedError} from './web-seed-error.js';

/** Whether an address (or `localhost`) is on the user's own machine or network. */
export type AddressScope = (address: string) => boolean;

/** What a request may reach: refused outright, or allowed onto a public address only, or anywhere. */
export type HopAccess = {refused: string} | {publicOnly: boolean};

/**
 * SSRF mitigation for web seeds, after libtorrent's `ssrf_mitigation`: a `url-list` entry comes
 * from a .torrent or magnet link a stranger made, and our GET would otherwise reach the user's
 * router or local services. A seed on a local address is allowed (a NAS, a test set-up) but not
 * with a query string, which is what talks to a web application rather than fetches a file; a
 * seed on a public address may not be redirected onto a local one. `seedIsLocal` is undefined on
 * the first hop (the seed's own URL) and afterwards says where that first hop connected.
 *
 * An address literal is judged here, before any connection; a host name is judged again on what it
 * resolves to by `publicOnlyLookup` when the answer is `publicOnly`.
 */
export function hopAccess(target: URL, seedIsLocal: boolean | undefined, isLocal: AddressScope): HopAccess {
	const hasQuery = target.search !== '';
	const mayReachLocal = !hasQuery && seedIsLocal !== false;
	if (!mayReachLocal && isLocal(target.hostname)) {
		return {refused: refusal(hasQuery)};
	}

	return {publicOnly: !mayReachLocal};
}

function refusal(hasQuery: boolean): string {
	return hasQuery
		? 'a web seed on a local address may not have a query string'
		: 'a web seed on a public address may not redirect to a local one';
}

/**
 * `lookup` for connections that must reach a public address: it fails with a `refused-address`
 * `WebSeedError` when any address the name resolves to is local (as `guardedLookup` does for
 * trackers), so a public name pointing at 192.168.1.1 cannot carry a refused request there.
 */
export function publicOnlyLookup(lookup: LookupFunction, isLocal: AddressScope): LookupFunction {
	return (hostname, options, callback) => {
		lookup(hostname, options, (error, address, family) => {
			const addresses = Array.isArray(address)
				? (address as LookupAddress[]).map((entry) => entry.address)
				: [address];
			const local = error ? undefined : addresses.find((entry) => isLocal(entry));
			if (local !== undefined) {
				const message = `${hostname} resolves to ${local}, a local address: a web seed reaches one only as its own URL, without a query string`;
				callback(new WebSeedError('refused-address', message), address, family);
				return;
			}

			callback(error, address, family);
		});
	};
}
