import net from 'node:net';

const loopbackNames = ['localhost', '127.0.0.1', '::1'];

const isLoopback = (host: string) => host === 'localhost' || host === '::1' || /^127\./.test(host);

const isWildcard = (host: string) => host === '0.0.0.0' || host === '::' || host === '';

/** `[::1]` and `[0:0::1]` are one address: IPv6 literals compared in the URL standard's form. */
function canonical(name: string): string {
	const lower = name.toLowerCase().replace(/\.$/, '');
	return net.isIPv6(lower) ? new URL(`http://[${lower}]/`).hostname.slice(1, -1) : lower;
}

/**
 * Whether a request's `Host` header names the server at `address` (its listening host and bound
 * port). A web page on a rebound DNS name (DNS rebinding) reaches our socket with its own name
 * in `Host`, so only our address, `localhost` and the loopback literals when we listen on
 * loopback, or any address literal when we listen on every address, get through. A missing
 * Host is refused: every browser and Prometheus send one (RFC 9112 §3.2 requires it).
 */
export function hostAllowed(header: string | undefined, address: {host: string; port: number}): boolean {
	const parsed =
		header === undefined ? null : /^(?:\[([\da-f:.]+)\]|([\da-z.-]+))(?::(\d{1,5}))?$/i.exec(header);
	if (!parsed) {
		return false;
	}

	const [, ipv6, name, port] = parsed;
	if ((port === undefined ? 80 : Number(port)) !== address.port) {
		return false;
	}

	// A bracketed name must be an IPv6 literal, and an IPv6 literal must be bracketed (RFC 3986 §3.2.2).
	const host = ipv6 ?? name ?? '';
	if (ipv6 !== undefined && !net.isIPv6(ipv6)) {
		return false;
	}

	const wanted = canonical(host);
	const listening = canonical(address.host);
	if (isWildcard(listening)) {
		return wanted === 'localhost' || net.isIP(wanted) !== 0;
	}

	return wanted === listening || (isLoopback(listening) && loopbackNames.includes(wanted));
}
