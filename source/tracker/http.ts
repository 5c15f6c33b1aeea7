import {lookup as dnsLookup, type LookupAddress} from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import type {LookupFunction} from 'node:net';
import {Observable} from 'rxjs';
import {type AnnounceResponse, parseAnnounceResponse} from '../codec/tracker-response.js';
import {TrackerError} from '../errors.js';
import {isLocalAddress} from '../peer/address-scope.js';
import {type AnnounceRequest, announceUrl} from './announce-request.js';

/** A tracker reply larger than this is not a peer list; stop reading rather than buffer it. */
const maxReplyBytes = 4 * 1024 * 1024;

/** The one path a tracker on the user's own machine or network may have (libtorrent's `ssrf_mitigation`). */
const localTrackerPath = '/announce';
const ssrfRefusal = `a tracker on a local address is asked only at ${localTrackerPath}`;

/**
 * SSRF mitigation, after libtorrent: a magnet link from a web page can name any URL as its
 * tracker, and our GET would reach the user's router or local services. A tracker whose address
 * is loopback, private or link-local is asked only at `/announce`: checked on the URL for an
 * address literal (and `localhost`), and again on what the name resolves to, so a public name
 * pointing at 192.168.1.1 gets the same treatment. Redirects are never followed.
 */
function guardedLookup(lookup: LookupFunction, path: string): LookupFunction {
	return (hostname, options, callback) => {
		lookup(hostname, options, (error, address, family) => {
			const addresses = Array.isArray(address)
				? (address as LookupAddress[]).map((entry) => entry.address)
				: [address];
			if (!error && path !== localTrackerPath && addresses.some((entry) => isLocalAddress(entry))) {
				callback(new TrackerError(ssrfRefusal), address, family);
				return;
			}

			callback(error, address, family);
		});
	};
}

/**
 * One announce to an HTTP or HTTPS tracker. Emits the parsed reply and completes, or errors with
 * a `TrackerError`; unsubscribing aborts the request, and so does the timeout. `lookup` resolves
 * the tracker's name (tests give their own).
 */
export function announceHttp(
	trackerUrl: string,
	request: AnnounceRequest,
	{timeoutMs, lookup = dnsLookup as LookupFunction}: {timeoutMs: number; lookup?: LookupFunction},
): Observable<AnnounceResponse> {
	return new Observable<AnnounceResponse>((subscriber) => {
		const url = announceUrl(trackerUrl, request);
		const client = url.startsWith('https:') ? https : http;
		const fail = (message: string, cause?: unknown) => {
			subscriber.error(new TrackerError(`${trackerUrl}: ${message}`, {cause}));
		};

		let target: URL;
		try {
			target = new URL(trackerUrl);
		} catch (error) {
			fail('not a URL', error);
			return;
		}

		if (isLocalAddress(target.hostname) && target.pathname !== localTrackerPath) {
			fail(ssrfRefusal);
			return;
		}

		const outgoing = client.get(
			url,
			// No keep-alive: announces are minutes apart, and an idle pooled socket would hold the
			// process open for seconds after the last one.
			{
				timeout: timeoutMs,
				agent: false,
				headers: {'user-agent': 'torrent-rx/0.1'},
				lookup: guardedLookup(lookup, target.pathname),
			},
			(response) => {
				if (response.statusCode !== 200) {
					response.resume();
					fail(`HTTP ${response.statusCode}`);
					return;
				}

				const chunks: Buffer[] = [];
				let received = 0;
				response.on('data', (chunk: Buffer) => {
					received += chunk.length;
					if (received > maxReplyBytes) {
						outgoing.destroy();
						fail(`reply larger than ${maxReplyBytes} bytes`);
						return;
					}

					chunks.push(chunk);
				});
				response.on('end', () => {
					try {
						subscriber.next(parseAnnounceResponse(Buffer.concat(chunks)));
						subscriber.complete();
					} catch (error) {
						subscriber.error(error);
					}
				});
				response.on('error', (error) => fail('reply interrupted', error));
			},
		);
		outgoing.on('timeout', () => {
			outgoing.destroy();
			fail(`no reply within ${timeoutMs} ms`);
		});
		outgoing.on('error', (error) => fail(error.message, error));
		return () => {
			outgoing.destroy();
		};
	});
}
