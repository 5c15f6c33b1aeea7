import {createHash} from 'node:crypto';
import {MetainfoError} from '../errors.js';
import {
	type BencodeDictionary,
	type BencodeValue,
	bytesToText,
	decodeBencode,
	decodeBencodePrefix,
	isBytes,
	isDictionary,
	isInteger,
	rawDictionaryValue,
} from './bencode.js';
import {sanitizeComponent, uniquePaths} from './path-names.js';
import {PieceHashes} from './piece-hashes.js';
import {linkTargets, symlinkComponents} from './symlink-path.js';

/** One file of the torrent, its path relative to the torrent's root, in piece order. */
export type FileEntry = {
	/** Path components, each made safe as libtorrent makes it (path-names.ts). */
	path: string[];
	length: number;
	/** Byte offset of this file in the torrent's concatenated payload. */
	offset: number;
	/**
	 * BEP 47 `attr`, as given: `p` pad, `x` executable, `h` hidden, `l` link. What is made of `p`
	 * and `l` is `pad` and `symlinkTarget`: read those, not the letters.
	 */
	attributes?: string;
	/**
	 * A pad file (BEP 47 `attr` with `p`, or the older `_____padding_file_` name libtorrent also
	 * honours): zeros that align the next file to a piece, not one of the user's files.
	 */
	pad?: true;
	/**
	 * A symbolic link (BEP 47 `attr` `l` with a `symlink path`; its length is 0): its target's
	 * components below the torrent's folder, the torrent's name not included (codec/symlink-path.ts).
	 * `..` components at its front climb out of the folder: such a link is never made
	 * (storage/symlinks.ts).
	 */
	symlinkTarget?: string[];
	/** BEP 47 `sha1`, the SHA-1 of the file's bytes: only a hint, the piece hashes decide. */
	sha1?: Buffer;
	/**
	 * The torrent's own components below its name (`path.utf-8`, else `path`), byte for byte,
	 * when they are not what `path` holds below the name: made safe, `.` or `..` left out, or
	 * renamed beside a clash. A web seed (BEP 19) stores the files under these names, so their
	 * URLs are built from them (codec/web-seed-url.ts). Views into `Metainfo.infoBytes`, not
	 * copies, and absent for the usual clean names, so the common torrent pays nothing for them.
	 */
	originalPath?: Buffer[];
};

export type Metainfo = {
	/** SHA-1 of the exact bencoded bytes of the `info` dictionary. */
	infoHash: Buffer;
	/** The `info` dictionary's bytes, as needed to serve metadata (BEP 9). */
	infoBytes: Buffer;
	/** The torrent's name, made safe as a file name (path-names.ts); the info hash when none is left. */
	name: string;
	/** `name.utf-8` (else `name`) byte for byte, when it is not `name`: see `FileEntry.originalPath`. */
	originalName?: Buffer;
	pieceLength: number;
	/** The SHA-1 digest of each piece. */
	pieceHashes: PieceHashes;
	files: FileEntry[];
	/** True for a multi-file torrent: the files live under a folder called `name`. */
	multiFile: boolean;
	totalLength: number;
	private: boolean;
	/** Tracker tiers (BEP 12); a lone `announce` becomes one tier of one. */
	announceTiers: string[][];
	comment?: string;
	createdBy?: string;
	/** `creation date`, in seconds since the epoch. */
	creationDate?: number;
	/** Web seeds (BEP 19 `url-list`, a string or a list). */
	webSeeds?: string[];
	/** For a hybrid torrent (`meta version` 2 beside the v1 keys): the v2 info hash, SHA-256 of `info`. */
	infoHashV2?: Buffer;
};

const maxMetainfoBytes = 64 * 1024 * 1024;

/** A piece is held whole in memory while it downloads; libtorrent refuses more than this too. */
const maxPieceLength = 512 * 1024 * 1024;

/** Deeper than any file system lets a path go (Linux's PATH_MAX is 4096 bytes). */
const maxPathComponents = 2048;

function requireBytes(dictionary: BencodeDictionary, key: string, where: string): Uint8Array {
	const value = dictionary[key];
	if (!isBytes(value)) {
		throw new MetainfoError(`${where} has no valid "${key}"`);
	}

	return value;
}

function requireLength(value: BencodeValue | undefined, where: string): number {
	if (!isInteger(value) || value < 0) {
		throw new MetainfoError(`${where} has an invalid length`);
	}

	return value;
}

function optionalText(dictionary: BencodeDictionary, key: string): string | undefined {
	const value = dictionary[key];
	return isBytes(value) ? bytesToText(value) : undefined;
}

function parseFiles(info: BencodeDictionary, name: string): {files: FileEntry[]; multiFile: boolean} {
	const list = info.files;
	if (list === undefined) {
		return {files: [singleFile(info, name)], multiFile: false};
	}

	if (!Array.isArray(list) || list.length === 0) {
		throw new MetainfoError('info.files must be a non-empty list');
	}

	const entries = list.map((entry, index) => {
		const where = `info.files[${index}]`;
		if (!isDictionary(entry)) {
			throw new MetainfoError(`${where} is not a dictionary`);
		}

		const attributes = isBytes(entry.attr) ? bytesToText(entry.attr) : undefined;
		// BEP 47: a link holds no payload bytes. libtorrent reads its length as 0 whatever `length`
		// says, with a valid `symlink path` or not; so must we, or every later file's offset differs.
		const link = attributes?.includes('l') === true;
		const length = link ? 0 : requireLength(entry.length, where);
		const original = rawPath(entry, where);
		return {
			entry,
			attributes,
			length,
			original,
			path: [name, ...safePath(original)],
			link: link ? symlinkComponents(entry['symlink path'], where) : undefined,
		};
	});
	// Two files of one path, or a file where another has a folder: renamed, as libtorrent does.
	const paths = uniquePaths(entries.map((entry) => entry.path));
	const targets = linkTargets(
		paths.map((path) => path.slice(1)),
		entries.map((entry) => entry.link),
	);
	let offset = 0;
	const files = entries.map(({entry, attributes, length, original}, index): FileEntry => {
		const path = paths[index] ?? [name, '_'];
		const pad = attributes?.includes('p') || path.at(-1)?.startsWith('_____padding_file_');
		// `l` without a target that names something is a regular file, as libtorrent reads it
		// (probed: no `symlink path`, not a list, an empty one or `.` alone). A pad file is never
		// made, link or not.
		const symlinkTarget = pad ? undefined : targets[index];
		const sha1 = fileHash(entry);
		const file: FileEntry = {
			path,
			length,
			offset,
			...(attributes ? {attributes} : {}),
			...(pad ? {pad: true as const} : {}),
			...(symlinkTarget ? {symlinkTarget} : {}),
			...(sha1 ? {sha1} : {}),
			...(sameNames(path.slice(1), original) ? {} : {originalPath: original}),
		};
		offset += length;
		return file;
	});
	return {files, multiFile: true};
}

/** BEP 47 `sha1`, when it is a SHA-1 (20 bytes); anything else is ignored, as libtorrent ignores it. */
function fileHash(entry: BencodeDictionary): Buffer | undefined {
	const hash = entry.sha1;
	return isBytes(hash) && hash.length === 20 ? Buffer.from(hash) : undefined;
}

/**
 * The one file of a single-file torrent. BEP 47 keys stand in the info dictionary then: `attr`
 * (`x`, `h`) and `sha1` count as for any file. `l` does not: there is no torrent folder for a
 * target to be below (libtorrent reads the link's length as 0 and refuses the torrent as empty),
 * and neither does `p` (a torrent of nothing but zeros): the bytes are downloaded as a file.
 */
function singleFile(info: BencodeDictionary, name: string): FileEntry {
	const attributes = isBytes(info.attr) ? bytesToText(info.attr) : undefined;
	const sha1 = fileHash(info);
	return {
		path: [name],
		length: requireLength(info.length, 'info'),
		offset: 0,
		...(attributes ? {attributes} : {}),
		...(sha1 ? {sha1} : {}),
	};
}

/** A file's path below the torrent's folder as the torrent gives it, as views of its bytes. */
function rawPath(entry: BencodeDictionary, where: string): Buffer[] {
	const path = entry['path.utf-8'] ?? entry.path;
	if (!Array.isArray(path) || path.length === 0) {
		throw new MetainfoError(`${where} has no path`);
	}

	if (path.length > maxPathComponents) {
		throw new MetainfoError(`${where} has a path of ${path.length} folders, more than ${maxPathComponents}`);
	}

	return path.map((component) => {
		if (!isBytes(component)) {
			throw new MetainfoError(`${where}: path component is not a string`);
		}

		return bytesView(component);
	});
}

/** The torrent's components made safe, those that name no file left out; `_` if none is left. */
function safePath(raw: readonly Uint8Array[]): string[] {
	const path = raw.flatMap((component) => sanitizeComponent(component) ?? []);
	return path.length > 0 ? path : ['_'];
}

/** A Buffer over the same bytes: no copy, the decoded dictionary's bytes are `infoBytes`' own. */
const bytesView = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);

/** True when the safe names are the torrent's own, byte for byte. */
function sameNames(safe: readonly string[], raw: readonly Uint8Array[]): boolean {
	return safe.length === raw.length && safe.every((name, index) => sameName(name, raw[index]));
}

function sameName(safe: string, raw: Uint8Array | undefined): boolean {
	return raw !== undefined && Buffer.from(safe).equals(raw);
}

function parseAnnounceTiers(root: BencodeDictionary): string[][] {
	const tiers: string[][] = [];
	const list = root['announce-list'];
	if (Array.isArray(list)) {
		for (const tier of list) {
			if (!Array.isArray(tier)) {
				continue;
			}

			const urls = tier.filter(isBytes).map(bytesToText).filter(Boolean);
			if (urls.length > 0) {
				tiers.push(urls);
			}
		}
	}

	// BEP 12: announce-list, when present, supersedes announce.
	const announce = optionalText(root, 'announce');
	if (tiers.length === 0 && announce) {
		tiers.push([announce]);
	}

	return tiers;
}

/** Parses and validates the `info` dictionary alone (from a .torrent, or fetched by BEP 9). */
export function parseInfoDictionary(
	infoBytes: Buffer,
): Omit<Metainfo, 'announceTiers' | 'comment' | 'createdBy' | 'creationDate' | 'webSeeds'> {
	const info = decodeBencode(infoBytes);
	if (!isDictionary(info)) {
		throw new MetainfoError('"info" is not a dictionary');
	}

	const infoHash = createHash('sha1').update(infoBytes).digest();
	const rawName = requireBytes(info, 'name.utf-8' in info ? 'name.utf-8' : 'name', 'info');
	// A name that names no folder (`..`, `.`) is the info hash, as libtorrent makes it.
	const name = sanitizeComponent(rawName) ?? infoHash.toString('hex');
	const pieceLength = info['piece length'];
	if (!isInteger(pieceLength) || pieceLength <= 0) {
		throw new MetainfoError('info has no positive "piece length"');
	}

	if (pieceLength > maxPieceLength) {
		throw new MetainfoError(`info's piece length ${pieceLength} is more than the ${maxPieceLength} allowed`);
	}

	const pieces = requireBytes(info, 'pieces', 'info');
	if (pieces.length % 20 !== 0) {
		throw new MetainfoError(`info.pieces is ${pieces.length} bytes, not a multiple of 20`);
	}

	const {files, multiFile} = parseFiles(info, name);
	const totalLength = files.reduce((sum, file) => sum + file.length, 0);
	if (!Number.isSafeInteger(totalLength)) {
		throw new MetainfoError(`info's files add up to more than ${Number.MAX_SAFE_INTEGER} bytes`);
	}
	const pieceCount = pieces.length / 20;
	const expectedPieces = Math.ceil(totalLength / pieceLength);
	if (pieceCount !== expectedPieces) {
		throw new MetainfoError(
			`info.pieces has ${pieceCount} hashes but ${totalLength} bytes in pieces of ${pieceLength} need ${expectedPieces}`,
		);
	}

	const pieceHashes = PieceHashes.fromConcatenated(pieces);

	return {
		infoHash,
		infoBytes,
		name,
		...(sameName(name, rawName) ? {} : {originalName: bytesView(rawName)}),
		pieceLength,
		pieceHashes,
		files,
		multiFile,
		totalLength,
		private: info.private === 1,
		...(info['meta version'] === 2 ? {infoHashV2: createHash('sha256').update(infoBytes).digest()} : {}),
	};
}

/** BEP 19's `url-list`: one URL or a list of them; anything else is left out. */
function parseWebSeeds(root: BencodeDictionary): string[] {
	const list = root['url-list'];
	const urls = isBytes(list) ? [list] : Array.isArray(list) ? list.filter(isBytes) : [];
	return urls.map(bytesToText).filter(Boolean);
}

/** Parses a .torrent file's bytes into validated metainfo, or throws a `MetainfoError` naming the problem. */
export function parseMetainfo(data: Uint8Array): Metainfo {
	if (data.length > maxMetainfoBytes) {
		throw new MetainfoError(
			`torrent file is ${data.length} bytes, more than the ${maxMetainfoBytes} allowed`,
		);
	}

	// Bytes after the top-level dictionary are ignored, as libtorrent ignores them (some tools
	// append a newline, or pad the file): they are not part of anything hashed.
	const {value: root, length} = decodeBencodePrefix(data);
	if (!isDictionary(root)) {
		throw new MetainfoError('torrent file is not a bencoded dictionary');
	}

	const infoBytes = rawDictionaryValue(data.subarray(0, length), 'info');
	if (!infoBytes || !isDictionary(root.info)) {
		throw new MetainfoError('torrent file has no "info" dictionary');
	}

	const comment = optionalText(root, 'comment');
	const createdBy = optionalText(root, 'created by');
	const creationDate = root['creation date'];
	const webSeeds = parseWebSeeds(root);
	return {
		...parseInfoDictionary(Buffer.from(infoBytes)),
		announceTiers: parseAnnounceTiers(root),
		...(comment === undefined ? {} : {comment}),
		...(createdBy === undefined ? {} : {createdBy}),
		...(isInteger(creationDate) && creationDate >= 0 ? {creationDate} : {}),
		...(webSeeds.length > 0 ? {webSeeds} : {}),
	};
}
