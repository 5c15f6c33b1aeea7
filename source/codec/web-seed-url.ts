/**
 * BEP 19 (web seeds, GetRight style): where a file of the torrent is on a web seed. The server
 * holds the files under the torrent's own names, not under the names made safe for this disk
 * (path-names.ts), so the URL is built from the bytes the torrent gives (`Metainfo.originalName`,
 * `FileEntry.originalPath`), percent-encoded byte by byte: that works for names that are not
 * UTF-8 too.
 */
import type {FileEntry, Metainfo} from './metainfo.js';

/** What of a torrent the URL of its files depends on. */
export type WebSeedTorrent = Pick<Metainfo, 'name' | 'originalName' | 'multiFile'>;

/** What of a file its URL depends on. */
export type WebSeedFile = Pick<FileEntry, 'path' | 'originalPath'>;

/**
 * RFC 3986 §2.3's unreserved characters stand for themselves; every other byte is `%XX`, upper
 * case as §2.1 prefers. Stricter than libtorrent's `escape_path`, which leaves `?`, `;`, `+`,
 * `&`, `=` and others as they are: a `?` in a file name would start the query there.
 */
const encodedBytes = Array.from({length: 256}, (_, byte) => {
	const char = String.fromCharCode(byte);
	return /^[A-Za-z0-9\-._~]$/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
});

/** Whether `text` is a URL a web seed can have (BEP 19 over HTTP): http or https, with a host. */
export function isWebSeedUrl(text: string): boolean {
	if (!/^https?:\/\//i.test(text)) {
		return false;
	}

	try {
		return new URL(text).hostname !== '';
	} catch {
		return false;
	}
}

/** One path component (a name), as a URL path segment: its bytes percent-encoded (RFC 3986). */
export function encodePathSegment(name: Uint8Array): string {
	let segment = '';
	for (const byte of name) {
		segment += encodedBytes[byte];
	}

	return segment;
}

/**
 * The URL of `file` on the web seed `seedUrl` (BEP 19). A single-file torrent: a URL whose path
 * does not end in `/` is the file itself; one that does (or has no path) gets the torrent's name. A multi-file
 * torrent: URL, then `/` if it has none (a malformed but common url-list; libtorrent adds it
 * too), then name and path, `/` between. The query of `seedUrl` (a signed link's token) stays
 * after the path, where a server reads it; libtorrent instead appends the path after the query,
 * which hands the server a changed query. A fragment is dropped: it is never sent.
 * `.`, `..` and empty components are left out: a URL cannot name them (RFC 3986 §5.2.4 removes
 * dot segments, as the WHATWG URL parser does even for `%2E`), and on disk they name nothing.
 */
export function webSeedFileUrl(seedUrl: string, torrent: WebSeedTorrent, file: WebSeedFile): string {
	const fragment = seedUrl.indexOf('#');
	const withoutFragment = fragment < 0 ? seedUrl : seedUrl.slice(0, fragment);
	const queryAt = withoutFragment.indexOf('?');
	const base = queryAt < 0 ? withoutFragment : withoutFragment.slice(0, queryAt);
	const query = queryAt < 0 ? '' : withoutFragment.slice(queryAt);
	// `http://host` is the server's root folder, `http://host/`, as libtorrent reads it.
	const folder = base.endsWith('/') || /^[a-z][a-z\d+.-]*:\/\/[^/]*$/i.test(base);
	if (!torrent.multiFile && !folder) {
		return `${base}${query}`;
	}

	const name = torrent.originalName ?? Buffer.from(torrent.name);
	const below = torrent.multiFile
		? (file.originalPath ?? file.path.slice(1).map((part) => Buffer.from(part)))
		: [];
	const segments = [name, ...below].filter(namesSomething).map(encodePathSegment);
	return `${base.endsWith('/') ? base : `${base}/`}${segments.join('/')}${query}`;
}

/** False for `.`, `..` and the empty name. */
function namesSomething(name: Uint8Array): boolean {
	const text = Buffer.from(name.buffer, name.byteOffset, name.length).toString('latin1');
	return text !== '' && text !== '.' && text !== '..';
}
