/** A dotted quad as `net.isIPv4` accepts it (no leading zeros), without importing node:net into the codec. */
const ipv4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** A peer's address as trackers, PEX and DHT hand it out. */
export type PeerAddress = {host: string; port: number};

export function peerKey({host, port}: PeerAddress): string {
	return ipv4.test(host) ? `${host}:${port}` : `[${host}]:${port}`;
}

/**
 * BEP 23 (6 bytes a peer, IPv4) and BEP 7 (18 bytes a peer, IPv6) compact peer lists, up to
 * `limit` peers: the rest of a longer list is never decoded.
 */
export function decodeCompactPeers(
	bytes: Uint8Array,
	family: 4 | 6,
	limit = Number.POSITIVE_INFINITY,
): PeerAddress[] {
	const addressLength = family === 4 ? 4 : 16;
	const entryLength = addressLength + 2;
	const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
	const peers: PeerAddress[] = [];
	// A trailing partial entry is ignored rather than fatal: the complete ones are still good.
	for (let offset = 0; offset + entryLength <= view.length && peers.length < limit; offset += entryLength) {
		const port = view.readUInt16BE(offset + addressLength);
		if (port === 0) {
			continue;
		}

		peers.push({host: formatAddress(view.subarray(offset, offset + addressLength)), port});
	}

	return peers;
}

function formatAddress(bytes: Buffer): string {
	if (bytes.length === 4) {
		return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
	}

	// An IPv4-mapped address (::ffff:a.b.c.d) is an IPv4 peer: dial it as one.
	if (bytes.subarray(0, 10).every((byte) => byte === 0) && bytes.readUInt16BE(10) === 0xff_ff) {
		return formatAddress(bytes.subarray(12));
	}

	const groups: string[] = [];
	for (let offset = 0; offset < 16; offset += 2) {
		groups.push(bytes.readUInt16BE(offset).toString(16));
	}

	// The URL parser prints IPv6 in its canonical compressed form (RFC 5952).
	return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

export function encodeCompactPeer({host, port}: PeerAddress): Buffer {
	const parts = host.split('.').map(Number);
	const buffer = Buffer.alloc(6);
	parts.forEach((part, index) => {
		buffer.writeUInt8(part, index);
	});
	buffer.writeUInt16BE(port, 4);
	return buffer;
}
