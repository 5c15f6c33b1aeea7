import {PeerProtocolError} from '../errors.js';

/** `<pstrlen=19><pstr="BitTorrent protocol"><reserved=8><info_hash=20><peer_id=20>` — 68 bytes (BEP 3). */
export const handshakeLength = 68;

const protocol = Buffer.from('BitTorrent protocol', 'latin1');

/** The first 20 bytes of every plaintext handshake: what tells one from MSE/PE's random-looking key. */
export const plaintextHandshakeStart = Buffer.concat([Buffer.of(protocol.length), protocol]);

export type Handshake = {
	/** The 8 reserved bytes: extension bits (BEP 10 sets bit 20, BEP 6 bit 2, BEP 5 bit 0). */
	reserved: Buffer;
	infoHash: Buffer;
	peerId: Buffer;
};

/** BEP 10's bit (reserved byte 5, 0x10): we speak the extension protocol. */
export const extensionProtocolBit = {byte: 5, mask: 0x10} as const;

/** BEP 6's bit (reserved byte 7, 0x04): the fast extension. */
export const fastExtensionBit = {byte: 7, mask: 0x04} as const;

/** The reserved bytes torrent-rx sends: the extension protocol and the fast extension. */
export function ourReservedBytes(): Buffer {
	const reserved = Buffer.alloc(8);
	reserved.writeUInt8(extensionProtocolBit.mask, extensionProtocolBit.byte);
	reserved.writeUInt8(fastExtensionBit.mask, fastExtensionBit.byte);
	return reserved;
}

export function supportsFastExtension(reserved: Buffer): boolean {
	return ((reserved[fastExtensionBit.byte] ?? 0) & fastExtensionBit.mask) !== 0;
}

export function supportsExtensionProtocol(reserved: Buffer): boolean {
	return ((reserved[extensionProtocolBit.byte] ?? 0) & extensionProtocolBit.mask) !== 0;
}

export function encodeHandshake({reserved, infoHash, peerId}: Handshake): Buffer {
	const buffer = Buffer.alloc(handshakeLength);
	buffer.writeUInt8(protocol.length, 0);
	protocol.copy(buffer, 1);
	reserved.copy(buffer, 20, 0, 8);
	infoHash.copy(buffer, 28, 0, 20);
	peerId.copy(buffer, 48, 0, 20);
	return buffer;
}

/** Decodes exactly 68 bytes; anything but the BitTorrent protocol string is a protocol error. */
export function decodeHandshake(bytes: Buffer): Handshake {
	if (bytes.length !== handshakeLength) {
		throw new PeerProtocolError(`handshake is ${bytes.length} bytes, not ${handshakeLength}`);
	}

	if (bytes.readUInt8(0) !== protocol.length || !bytes.subarray(1, 20).equals(protocol)) {
		throw new PeerProtocolError('not a BitTorrent handshake');
	}

	return {
		reserved: Buffer.from(bytes.subarray(20, 28)),
		infoHash: Buffer.from(bytes.subarray(28, 48)),
		peerId: Buffer.from(bytes.subarray(48, 68)),
	};
}
