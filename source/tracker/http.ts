import http from 'node:http';
import https from 'node:https';
import {Observable} from 'rxjs';
import {type AnnounceResponse, parseAnnounceResponse} from '../codec/tracker-response.js';
import {TrackerError} from '../errors.js';
import {type AnnounceRequest, announceUrl} from './announce-request.js';

/** A tracker reply larger than this is not a peer list; stop reading rather than buffer it. */
const maxReplyBytes = 4 * 1024 * 1024;

/**
 * One announce to an HTTP or HTTPS tracker. Emits the parsed reply and completes, or errors with
 * a `TrackerError`; unsubscribing aborts the request, and so does the timeout.
 */
export function announceHttp(
	trackerUrl: string,
	request: AnnounceRequest,
	{timeoutMs}: {timeoutMs: number},
): Observable<AnnounceResponse> {
	return new Observable<AnnounceResponse>((subscriber) => {
		const url = announceUrl(trackerUrl, request);
		const client = url.startsWith('https:') ? https : http;
		const fail = (message: string, cause?: unknown) => {
			subscriber.error(new TrackerError(`${trackerUrl}: ${message}`, {cause}));
		};

		const outgoing = client.get(
			url,
			// No keep-alive: announces are minutes apart, and an idle pooled socket would hold the
			// process open for seconds after the last one.
			{timeout: timeoutMs, agent: false, headers: {'user-agent': 'torrent-rx/0.1'}},
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
