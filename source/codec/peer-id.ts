import {randomBytes} from 'node:crypto';

/** Azureus-style client prefix, `-RX` and the version (0.1.0, and a zero build tag), then 12 random bytes. */
export const clientPrefix = '-RX0100-';

/** What we call ourselves in the extended handshake (BEP 10 `v`). */
export const ourClientName = 'torrent-rx 0.1.0';

export function generatePeerId(): Buffer {
	return Buffer.concat([Buffer.from(clientPrefix, 'latin1'), randomBytes(12)]);
}
