import {encodeBencode} from './bencode.js';
import type {FileEntry} from './metainfo.js';
import type {PieceHashes} from './piece-hashes.js';

export type NewTorrent = {
	name: string;
	/** Relative to the torrent's root, in the order their bytes are hashed. */
	files: ReadonlyArray<Pick<FileEntry, 'path' | 'length'>>;
	/** True for a folder: the files live under `name`. */
	multiFile: boolean;
	pieceLength: number;
	pieceHashes: PieceHashes;
	trackers: readonly string[];
	/** BEP 19 web seeds: each the URL of the file, or of the folder holding the torrent's name. */
	webSeeds?: readonly string[];
	private: boolean;
	comment?: string;
	createdBy: string;
	/** Seconds since the epoch. */
	creationDate: number;
};

/**
 * The bencoded .torrent for a payload (BEP 3): one tracker becomes `announce`, several also
 * an `announce-list` with a tier each (BEP 12); web seeds a `url-list` (BEP 19), outside `info`
 * so they change no info hash. Keys are sorted by the encoder, so the same payload and options
 * always give the same info hash.
 */
export function buildMetainfo(torrent: NewTorrent): Buffer {
	const info: Record<string, unknown> = {
		name: torrent.name,
		'piece length': torrent.pieceLength,
		pieces: torrent.pieceHashes.digests,
	};
	if (torrent.multiFile) {
		info.files = torrent.files.map((file) => ({length: file.length, path: file.path.slice(1)}));
	} else {
		info.length = torrent.files[0]?.length ?? 0;
	}

	if (torrent.private) {
		info.private = 1;
	}

	const root: Record<string, unknown> = {
		info,
		'created by': torrent.createdBy,
		'creation date': torrent.creationDate,
	};
	const [first] = torrent.trackers;
	if (first) {
		root.announce = first;
	}

	if (torrent.trackers.length > 1) {
		root['announce-list'] = torrent.trackers.map((tracker) => [tracker]);
	}

	if (torrent.comment) {
		root.comment = torrent.comment;
	}

	// BEP 19 allows a string or a list: one web seed is a string, several a list, as libtorrent
	// (2.0's create_torrent) and mktorrent write them, so older readers that take only the
	// string still see a lone seed.
	const webSeeds = torrent.webSeeds ?? [];
	if (webSeeds.length > 0) {
		root['url-list'] = webSeeds.length === 1 ? webSeeds[0] : [...webSeeds];
	}

	return encodeBencode(root);
}

/**
 * A piece length for `totalLength`: the smallest power of two that keeps the torrent under
 * about 2,000 pieces, between 16 KiB and 16 MiB.
 */
export function automaticPieceLength(totalLength: number): number {
	let pieceLength = 16 * 1024;
	while (pieceLength < 16 * 1024 * 1024 && totalLength / pieceLength > 2000) {
		pieceLength *= 2;
	}

	return pieceLength;
}

/**
 * A .torrent around an info dictionary fetched by BEP 9: the dictionary byte for byte (so the
 * info hash stays the same), after the trackers (`announce`, and `announce-list` with a tier
 * each when there are several), and the link's web seeds after it (`url-list`), the keys in the
 * order bencode requires.
 */
export function torrentFileFromInfo(
	infoBytes: Buffer,
	trackers: readonly string[],
	webSeeds: readonly string[] = [],
): Buffer {
	const head = encodeBencode({
		...(trackers[0] ? {announce: trackers[0]} : {}),
		...(trackers.length > 1 ? {'announce-list': trackers.map((tracker) => [tracker])} : {}),
	});
	// Keys in byte order (BEP 3): `url-list` (BEP 19, a magnet link's `ws=`) comes after `info`.
	const tail =
		webSeeds.length > 0 ? encodeBencode({'url-list': [...webSeeds]}).subarray(1) : Buffer.from('e');
	return Buffer.concat([head.subarray(0, -1), Buffer.from('4:info', 'latin1'), infoBytes, tail]);
}
