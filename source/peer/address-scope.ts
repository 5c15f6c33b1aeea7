import {BlockList, isIP} from 'node:net';

// Addresses that reach the user's own machine or network rather than the Internet: loopback,
// RFC 1918 and RFC 4193 private, link-local, carrier-grade NAT, "this network", multicast.
const local = new BlockList();
for (const [network, prefix] of [
	['0.0.0.0', 8],
	['10.0.0.0', 8],
	['100.64.0.0', 10],
	['127.0.0.0', 8],
	['169.254.0.0', 16],
	['172.16.0.0', 12],
	['192.168.0.0', 16],
	['224.0.0.0', 4],
	['240.0.0.0', 4],
] as const) {
	local.addSubnet(network, prefix, 'ipv4');
}

// An IPv4-mapped address (::ffff:a.b.c.d, in any spelling) is checked against the IPv4 rules by
// BlockList itself; the deprecated IPv4-compatible ones (::a.b.c.d) are all refused.
for (const [network, prefix] of [
	['::', 96],
	['fc00::', 7],
	['fe80::', 10],
	['ff00::', 8],
] as const) {
	local.addSubnet(network, prefix, 'ipv6');
}

/**
 * True for an IP literal on a loopback, private, link-local or other non-public network, and for
 * `localhost`: the addresses a stranger must not make us connect to (libtorrent's SSRF
 * mitigation). A host name other than `localhost` is not an address: it is false here, and the
 * caller that resolves it checks what it resolves to.
 */
export function isLocalAddress(host: string): boolean {
	const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
	const family = isIP(bare);
	if (family === 0) {
		return bare.toLowerCase() === 'localhost' || bare.toLowerCase().endsWith('.localhost');
	}

	return local.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/** An IP literal on the public Internet: what a peer list from a stranger may name. */
export function isPublicAddress(host: string): boolean {
	const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
	return isIP(bare) !== 0 && !isLocalAddress(bare);
}

/** True when a URL (a tracker's) names a local host: its peers may then be on the local network too. */
export function isLocalUrl(url: string): boolean {
	try {
		return isLocalAddress(new URL(url).hostname);
	} catch {
		return false;
	}
}

/**
 * Whether a peer address from some source may be dialled: a real port (never 0), and a public
 * address unless the source may name local ones (LSD, the user, a tracker that is itself local).
 */
export function isDialable({host, port}: {host: string; port: number}, allowLocal: boolean): boolean {
	return Number.isInteger(port) && port > 0 && port < 65_536 && (allowLocal || isPublicAddress(host));
}
