/**
 * Azureus-style client codes (`-LT2080-` is libtorrent 2.0.8), after the list in BEP 20 and
 * the codes today's clients actually send.
 */
const azureusClients: Record<string, string> = {
	AZ: 'Vuze',
	BC: 'BitComet',
	BI: 'BiglyBT',
	BT: 'BitTorrent',
	DE: 'Deluge',
	FD: 'Free Download Manager',
	KT: 'KTorrent',
	LT: 'libtorrent',
	lt: 'libTorrent (rakshasa)',
	PI: 'PicoTorrent',
	qB: 'qBittorrent',
	RX: 'torrent-rx',
	TR: 'Transmission',
	UT: 'µTorrent',
	UM: 'µTorrent Mac',
	WD: 'WebTorrent Desktop',
	WW: 'WebTorrent',
	XL: 'Xunlei',
};

const printable = (text: string) => /^[\u0020-\u007E]*$/.test(text);

/** Version digits as clients usually print them: `2080` → `2.0.8`, the last digit being a build tag that is mostly zero. */
function azureusVersion(digits: string): string {
	return (digits.endsWith('0') ? digits.slice(0, -1) : digits).split('').join('.');
}

/**
 * A readable client name from a peer id (the 20 bytes as latin1): `libtorrent 2.0.8`,
 * `aria2 1.36.0`, or the printable prefix when the style is unknown.
 */
export function clientName(peerId: string): string {
	const azureus = /^-([A-Za-z~]{2})([0-9A-Za-z]{4})-/.exec(peerId);
	if (azureus) {
		const [, code = '', digits = ''] = azureus;
		const name = azureusClients[code];
		return name ? `${name} ${azureusVersion(digits)}` : `-${code}${digits}-`;
	}

	// aria2 spells its version out: `A2-1-36-0-` then random bytes.
	const aria2 = /^A2-(\d+)-(\d+)-(\d+)-/.exec(peerId);
	if (aria2) {
		return `aria2 ${aria2.slice(1).join('.')}`;
	}

	// Mainline style: a letter, then the version with dashes, `M7-4-3--`.
	const mainline = /^M(\d+)-(\d+)-(\d+)-/.exec(peerId);
	if (mainline) {
		return `BitTorrent ${mainline.slice(1).join('.')}`;
	}

	const prefix = peerId.slice(0, 8);
	return printable(prefix) && prefix.length > 0 ? prefix : 'unknown';
}

/**
 * A client's own name from its extended handshake (BEP 10 `v`), as the peer table shows names:
 * `libtorrent/2.0.8.0` → `libtorrent 2.0.8`, `aria2/1.36.0` → `aria2 1.36.0`.
 */
export function clientNameFromVersion(version: string): string {
	const named = version.trim().replace(/^([^\s/]+)\/(\S+)$/, '$1 $2');
	// A fourth version number of 0 is a build tag, as in peer ids.
	return named.replace(/^(.+ \d+\.\d+\.\d+)\.0$/, '$1');
}
