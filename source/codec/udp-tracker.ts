import {TrackerError} from '../errors.js';
import type {AnnounceEvent} from '../tracker/announce-request.js';
import {decodeCompactPeers, type PeerAddress} from './compact-peers.js';
import {printable} from './printable.js';
import {maxReplyPeers} from './tracker-response.js';

/** BEP 15's magic constant: the first eight bytes of every connect request. */
const protocolId = 0x417_2710_1980n;

export const udpActions = {connect: 0, announce: 1, scrape: 2, error: 3} as const;

const udpEvents: Record<AnnounceEvent | 'none', number> = {none: 0, completed: 1, started: 2, stopped: 3};

/** `<int64 protocol_id><int32 action=0><int32 transaction_id>` */
export function encodeConnectRequest(transactionId: number): Buffer {
	const packet = Buffer.alloc(16);
	packet.writeBigUInt64BE(protocolId, 0);
	packet.writeUInt32BE(udpActions.connect, 8);
	packet.writeUInt32BE(transactionId, 12);
	return packet;
}

export type UdpAnnounce = {
	infoHash: Buffer;
	peerId: Buffer;
	downloaded: number;
	left: number;
	uploaded: number;
	event?: AnnounceEvent;
	/** Identifies us to the tracker across IP changes; random, the same for a whole run. */
	key: number;
	numwant: number;
	port: number;
};

/**
 * `<int64 connection_id><int32 action=1><int32 transaction_id><20 info_hash><20 peer_id>
 * <int64 downloaded><int64 left><int64 uploaded><int32 event><uint32 ip=0><uint32 key>
 * <int32 num_want><uint16 port>`: 98 bytes.
 */
export function encodeAnnounceRequest(
	connectionId: bigint,
	transactionId: number,
	announce: UdpAnnounce,
): Buffer {
	const packet = Buffer.alloc(98);
	packet.writeBigUInt64BE(connectionId, 0);
	packet.writeUInt32BE(udpActions.announce, 8);
	packet.writeUInt32BE(transactionId, 12);
	announce.infoHash.copy(packet, 16, 0, 20);
	announce.peerId.copy(packet, 36, 0, 20);
	packet.writeBigUInt64BE(BigInt(announce.downloaded), 56);
	packet.writeBigUInt64BE(BigInt(announce.left), 64);
	packet.writeBigUInt64BE(BigInt(announce.uploaded), 72);
	packet.writeUInt32BE(udpEvents[announce.event ?? 'none'], 80);
	packet.writeUInt32BE(0, 84);
	packet.writeUInt32BE(announce.key >>> 0, 88);
	packet.writeInt32BE(announce.numwant, 92);
	packet.writeUInt16BE(announce.port, 96);
	return packet;
}

/** `<int64 connection_id><int32 action=2><int32 transaction_id>` and 20 bytes per info hash. */
export function encodeScrapeRequest(
	connectionId: bigint,
	transactionId: number,
	infoHashes: Buffer[],
): Buffer {
	const packet = Buffer.alloc(16 + 20 * infoHashes.length);
	packet.writeBigUInt64BE(connectionId, 0);
	packet.writeUInt32BE(udpActions.scrape, 8);
	packet.writeUInt32BE(transactionId, 12);
	for (const [index, infoHash] of infoHashes.entries()) {
		infoHash.copy(packet, 16 + 20 * index, 0, 20);
	}

	return packet;
}

export type UdpTrackerReply =
	| {action: 'connect'; transactionId: number; connectionId: bigint}
	| {
			action: 'announce';
			transactionId: number;
			interval: number;
			leechers: number;
			seeders: number;
			peers: PeerAddress[];
	  }
	| {
			action: 'scrape';
			transactionId: number;
			files: Array<{seeders: number; completed: number; leechers: number}>;
	  }
	| {action: 'error'; transactionId: number; message: string};

/**
 * Decodes a tracker's reply. Peers are 6 bytes each from an IPv4 tracker and 18 from an IPv6
 * one (BEP 15 ties the format to the address family the request went over), so the caller
 * says which. Anything malformed is a TrackerError.
 */
export function decodeUdpTrackerReply(packet: Buffer, family: 'IPv4' | 'IPv6'): UdpTrackerReply {
	if (packet.length < 8) {
		throw new TrackerError(`UDP tracker reply of ${packet.length} bytes is too short`);
	}

	const action = packet.readUInt32BE(0);
	const transactionId = packet.readUInt32BE(4);
	switch (action) {
		case udpActions.connect:
			if (packet.length < 16) {
				throw new TrackerError('UDP connect reply is too short');
			}

			return {action: 'connect', transactionId, connectionId: packet.readBigUInt64BE(8)};
		case udpActions.announce: {
			if (packet.length < 20) {
				throw new TrackerError('UDP announce reply is too short');
			}

			const peerLength = family === 'IPv4' ? 6 : 18;
			const peerBytes = packet.subarray(20, 20 + Math.floor((packet.length - 20) / peerLength) * peerLength);
			return {
				action: 'announce',
				transactionId,
				interval: packet.readUInt32BE(8),
				leechers: packet.readUInt32BE(12),
				seeders: packet.readUInt32BE(16),
				peers: decodeCompactPeers(peerBytes, family === 'IPv4' ? 4 : 6, maxReplyPeers),
			};
		}

		case udpActions.scrape: {
			const files: Array<{seeders: number; completed: number; leechers: number}> = [];
			for (let offset = 8; offset + 12 <= packet.length; offset += 12) {
				files.push({
					seeders: packet.readUInt32BE(offset),
					completed: packet.readUInt32BE(offset + 4),
					leechers: packet.readUInt32BE(offset + 8),
				});
			}

			return {action: 'scrape', transactionId, files};
		}

		case udpActions.error:
			return {
				action: 'error',
				transactionId,
				// A tracker's own words, on their way to a terminal.
				message: printable(packet.subarray(8, 8 + 800).toString('utf8')),
			};
		default:
			throw new TrackerError(`UDP tracker reply with unknown action ${action}`);
	}
}
