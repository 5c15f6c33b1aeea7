import {MetainfoError} from '../errors.js';
import type {PeerAddress} from './compact-peers.js';
import {isWebSeedUrl} from './web-seed-url.js';

/** What a magnet link (BEP 9) gives: the info hash, and hints for finding the torrent. */
export type MagnetLink = {
	infoHash: Buffer;
	/** `dn`: a name to show until the metadata arrives. */
	displayName?: string;
	/** `tr`: trackers, each its own tier. */
	trackers: string[];
	/** `x.pe`: peers to try directly. */
	peers: PeerAddress[];
	/** `ws`: web seeds (BEP 19 for magnet links), http and https only, each once. */
	webSeeds: string[];
};

/** A link is a stranger's text: this many web seeds are plenty (libtorrent keeps them all). */
const maxWebSeeds = 20;
/** Longer than any mirror's URL; a longer one is ignored, not cut. */
const maxWebSeedLength = 2048;

const base32Alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function decodeBase32(text: string): Buffer {
	let bits = 0;
	let value = 0;
	const bytes: number[] = [];
	for (const char of text.toUpperCase()) {
		const digit = base32Alphabet.indexOf(char);
		if (digit < 0) {
			throw new MetainfoError(`magnet link: "${char}" is not base32`);
		}

		value = (value << 5) | digit;
		bits += 5;
		if (bits >= 8) {
			bits -= 8;
			bytes.push((value >> bits) & 0xff);
		}
	}

	return Buffer.from(bytes);
}

/** `urn:btih:` and 40 hex digits, or 32 base32 characters (the older form). */
function parseExactTopic(topic: string): Buffer | undefined {
	const match = /^urn:btih:([0-9a-f]{40}|[a-z2-7]{32})$/i.exec(topic);
	if (!match?.[1]) {
		return undefined;
	}

	return match[1].length === 40 ? Buffer.from(match[1], 'hex') : decodeBase32(match[1]);
}

/** `host:port` or `[v6]:port`, as `x.pe` writes peers. */
function parsePeer(text: string): PeerAddress | undefined {
	const match = /^(?:\[([0-9a-f:.]+)\]|([^:[\]]+)):(\d{1,5})$/i.exec(text);
	const port = Number(match?.[3]);
	const host = match?.[1] ?? match?.[2];
	return host && port > 0 && port < 65_536 ? {host, port} : undefined;
}

/** A `ws` value that is an http or https URL with a host, and not too long. */
const isWebSeed = (text: string) => text.length <= maxWebSeedLength && isWebSeedUrl(text);

/** The first 20 distinct good `ws` values, in order; the rest are never parsed. */
function webSeeds(values: readonly string[]): string[] {
	const kept = new Set<string>();
	for (const value of values) {
		if (kept.size === maxWebSeeds) {
			break;
		}

		if (!kept.has(value) && isWebSeed(value)) {
			kept.add(value);
		}
	}

	return [...kept];
}

/** Whether `text` is a magnet link (`magnet:?`, in any case), before it is parsed. */
export function isMagnetLink(text: string): boolean {
	return /^magnet:\?/i.test(text);
}

/**
 * Parses `magnet:?xt=urn:btih:…&dn=…&tr=…&x.pe=…&ws=…`. A link with no BitTorrent v1 info hash
 * is a MetainfoError; unknown parameters are ignored, as every client does, and so are `ws`
 * values that are no http(s) URL, over 2,048 characters, or past the first 20 good ones.
 */
export function parseMagnetLink(link: string): MagnetLink {
	if (!isMagnetLink(link)) {
		throw new MetainfoError('not a magnet link');
	}

	const parameters = new URLSearchParams(link.slice(link.indexOf('?') + 1));
	const infoHash = parameters
		.getAll('xt')
		.map(parseExactTopic)
		.find((hash): hash is Buffer => hash !== undefined);
	if (!infoHash) {
		throw new MetainfoError('magnet link has no urn:btih info hash (xt)');
	}

	const displayName = parameters.get('dn') ?? undefined;
	return {
		infoHash,
		...(displayName ? {displayName} : {}),
		trackers: [...new Set(parameters.getAll('tr'))],
		peers: parameters.getAll('x.pe').flatMap((text) => parsePeer(text) ?? []),
		webSeeds: webSeeds(parameters.getAll('ws')),
	};
}
