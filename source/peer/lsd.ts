import {randomBytes} from 'node:crypto';
import dgram from 'node:dgram';
import {networkInterfaces} from 'node:os';
import {asyncScheduler, Observable, type SchedulerLike, timer} from 'rxjs';
import type {PeerAddress} from '../codec/compact-peers.js';
import {decodeLsdAnnounce, encodeLsdAnnounce, lsdGroup} from '../codec/lsd.js';

export type LsdOptions = {
	/** Our TCP port, announced to the local network. */
	port: number;
	/** BEP 14: announce every five minutes (never more than once a minute). */
	intervalMs: number;
	/** The IPv4 addresses of the interfaces to announce on: every one this machine has, by default. */
	interfaces?: string[];
	scheduler?: SchedulerLike;
};

/**
 * Local service discovery (BEP 14) for one torrent while subscribed: announces `infoHash` to
 * the local network's multicast group now and every `intervalMs`, and emits the peers on the
 * network that announce the same torrent (never ourselves: our messages carry our cookie).
 */
export function localPeers(infoHash: Buffer, options: LsdOptions): Observable<PeerAddress[]> {
	return new Observable<PeerAddress[]>((subscriber) => {
		const cookie = randomBytes(6).toString('hex');
		const ours = infoHash.toString('hex');
		const socket = dgram.createSocket({type: 'udp4', reuseAddr: true});
		socket.on('error', () => socket.close());
		socket.on('message', (packet, sender) => {
			const announce = decodeLsdAnnounce(packet);
			if (announce && announce.cookie !== cookie && announce.infoHashes.includes(ours)) {
				subscriber.next([{host: sender.address, port: announce.port}]);
			}
		});
		const message = encodeLsdAnnounce({port: options.port, infoHashes: [ours], cookie});
		const announcing = timer(0, Math.max(60_000, options.intervalMs), options.scheduler ?? asyncScheduler);
		let announcements: {unsubscribe(): void} | undefined;
		socket.bind(lsdGroup.port, () => {
			// Each interface its own membership and its own announce: the loopback one included, so
			// that clients on this machine find each other too. One that refuses is skipped.
			const joined = (options.interfaces ?? ipv4Interfaces()).filter((address) => {
				try {
					socket.addMembership(lsdGroup.host, address);
					return true;
				} catch {
					return false;
				}
			});
			socket.setMulticastLoopback(true);
			announcements = announcing.subscribe(() => {
				for (const address of joined) {
					try {
						socket.setMulticastInterface(address);
						socket.send(message, lsdGroup.port, lsdGroup.host);
					} catch {
						// The interface went away; the others still hear us.
					}
				}
			});
		});
		socket.unref();
		return () => {
			announcements?.unsubscribe();
			try {
				socket.close();
			} catch {
				// Already closed after an error.
			}
		};
	});
}

function ipv4Interfaces(): string[] {
	return Object.values(networkInterfaces())
		.flatMap((addresses) => addresses ?? [])
		.filter((address) => address.family === 'IPv4')
		.map((address) => address.address);
}
