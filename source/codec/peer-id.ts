import {randomBytes} from 'node:crypto';

/** Azureus-style client prefix: `-RX` + version digits + `-`, then 12 random bytes. */
export const clientPrefix = '-RX0001-';

export function generatePeerId(): Buffer {
	return Buffer.concat([Buffer.from(clientPrefix, 'latin1'), randomBytes(12)]);
}
