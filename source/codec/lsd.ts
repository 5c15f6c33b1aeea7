/** BEP 14: where local peers listen for each other. */
export const lsdGroup = {host: '239.192.152.143', port: 6771} as const;

export type LsdAnnounce = {port: number; infoHashes: string[]; cookie?: string};

/** A BT-SEARCH message (BEP 14): HTTP-like, over UDP multicast. */
export function encodeLsdAnnounce({port, infoHashes, cookie}: LsdAnnounce): Buffer {
	const lines = [
		'BT-SEARCH * HTTP/1.1',
		`Host: ${lsdGroup.host}:${lsdGroup.port}`,
		`Port: ${port}`,
		...infoHashes.map((infoHash) => `Infohash: ${infoHash}`),
		...(cookie ? [`cookie: ${cookie}`] : []),
	];
	return Buffer.from(`${lines.join('\r\n')}\r\n\r\n\r\n`, 'latin1');
}

/** Reads a BT-SEARCH message; anything else (or a port or info hash that is not one) is undefined. */
export function decodeLsdAnnounce(packet: Buffer): LsdAnnounce | undefined {
	if (packet.length > 1400) {
		return undefined;
	}

	const [first, ...lines] = packet.toString('latin1').split(/\r?\n/);
	if (first?.trim() !== 'BT-SEARCH * HTTP/1.1') {
		return undefined;
	}

	let port = 0;
	let cookie: string | undefined;
	const infoHashes: string[] = [];
	for (const line of lines) {
		const match = /^([A-Za-z-]+):\s*(.*?)\s*$/.exec(line);
		const name = match?.[1]?.toLowerCase();
		const value = match?.[2] ?? '';
		if (name === 'port' && /^\d{1,5}$/.test(value)) {
			port = Number(value);
		} else if (name === 'infohash' && /^[0-9a-f]{40}$/i.test(value)) {
			infoHashes.push(value.toLowerCase());
		} else if (name === 'cookie') {
			cookie = value;
		}
	}

	return port > 0 && port < 65_536 && infoHashes.length > 0
		? {port, infoHashes, ...(cookie === undefined ? {} : {cookie})}
		: undefined;
}
