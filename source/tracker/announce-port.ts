import {throwError} from 'rxjs';
import {TrackerError} from '../errors.js';
import type {AnnouncePort} from './announcer.js';
import {announceHttp} from './http.js';
import {createUdpTrackerClient, defaultUdpTrackerOptions, type UdpTrackerOptions} from './udp.js';

/** Announces over whatever the tracker URL names: `http:`, `https:` or `udp:` (BEP 15). */
export function announceByScheme({
	httpTimeoutMs,
	udp = defaultUdpTrackerOptions,
}: {
	httpTimeoutMs: number;
	udp?: UdpTrackerOptions;
}): AnnouncePort {
	const udpClient = createUdpTrackerClient(udp);
	return (trackerUrl, request) => {
		const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trackerUrl)?.[1]?.toLowerCase();
		switch (scheme) {
			case 'http':
			case 'https':
				return announceHttp(trackerUrl, request, {timeoutMs: httpTimeoutMs});
			case 'udp':
				return udpClient.announce(trackerUrl, request);
			default:
				return throwError(
					() => new TrackerError(`${trackerUrl}: unsupported tracker scheme ${scheme ?? ''}`),
				);
		}
	};
}
