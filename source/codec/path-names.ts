/**
 * Names from every system, made safe the way libtorrent 2.0 makes them (its
 * `sanitize_append_path_element` and duplicate renaming, checked against python3-libtorrent in
 * test/integration/odd-names.test.ts), instead of refusing the torrent: a torrent made on
 * Windows, with a `..` or a 300-byte name, downloads under names this system can hold.
 */

/** libtorrent's longest component, in bytes: room for a `.N` suffix under the usual 255. */
const maxComponentBytes = 240;
/** An extension (with its dot) shorter than this is kept when a long name is cut. */
const maxKeptExtensionBytes = 10;

/** Dropped from names: separators, NUL, and the bidi marks and embeddings libtorrent strips. */
const isDropped = (codePoint: number) =>
	codePoint === 0x2f ||
	codePoint === 0x5c ||
	codePoint === 0 ||
	codePoint === 0x200e ||
	codePoint === 0x200f ||
	(codePoint >= 0x202a && codePoint <= 0x202e);

/**
 * One path component from the torrent's bytes: invalid UTF-8 becomes `_` a byte, control
 * characters `_`, separators, NUL and bidi marks are dropped, a name over 240 bytes is cut
 * (keeping a short extension). `.` and `..` name no file: undefined, the component is left out.
 * Nothing left: `_`.
 */
export function sanitizeComponent(raw: Uint8Array): string | undefined {
	let text = '';
	for (const codePoint of codePoints(raw)) {
		if (!isDropped(codePoint)) {
			text += codePoint < 0x20 ? '_' : String.fromCodePoint(codePoint);
		}
	}

	if (text === '.' || text === '..') {
		return undefined;
	}

	return text === '' ? '_' : shortened(text);
}

/** `text` cut to 240 bytes on a character boundary; an extension cut off whole comes back if short. */
function shortened(text: string): string {
	if (Buffer.byteLength(text) <= maxComponentBytes) {
		return text;
	}

	let kept = '';
	let bytes = 0;
	for (const char of text) {
		const size = Buffer.byteLength(char);
		if (bytes + size > maxComponentBytes) {
			break;
		}

		kept += char;
		bytes += size;
	}

	const dot = text.lastIndexOf('.');
	const extension = dot < 0 ? '' : text.slice(dot);
	const cutBeforeDot = dot >= kept.length;
	return cutBeforeDot && Buffer.byteLength(extension) < maxKeptExtensionBytes ? kept + extension : kept;
}

/** The code points of UTF-8 `bytes`; each byte of an invalid sequence is `_` (0x5f). */
function* codePoints(bytes: Uint8Array): Generator<number> {
	let index = 0;
	while (index < bytes.length) {
		const [codePoint, length] = decodeAt(bytes, index);
		yield codePoint;
		index += length;
	}
}

/** The code point at `index` and its length in bytes, or `_` and 1 where the bytes are not UTF-8. */
function decodeAt(bytes: Uint8Array, index: number): [number, number] {
	const lead = bytes[index] ?? 0;
	if (lead < 0x80) {
		return [lead, 1];
	}

	const length =
		lead >= 0xc2 && lead <= 0xdf
			? 2
			: lead >= 0xe0 && lead <= 0xef
				? 3
				: lead >= 0xf0 && lead <= 0xf4
					? 4
					: 0;
	if (length === 0 || index + length > bytes.length) {
		return [0x5f, 1];
	}

	let codePoint = lead & (0xff >> (length + 1));
	for (let next = 1; next < length; next++) {
		const byte = bytes[index + next] ?? 0;
		if ((byte & 0xc0) !== 0x80) {
			return [0x5f, 1];
		}

		codePoint = (codePoint << 6) | (byte & 0x3f);
	}

	const least = [0, 0, 0x80, 0x800, 0x10000][length] ?? 0;
	const valid = codePoint >= least && codePoint <= 0x10ffff && !(codePoint >= 0xd800 && codePoint <= 0xdfff);
	return valid ? [codePoint, length] : [0x5f, 1];
}

/**
 * The files' paths with every clash resolved as libtorrent resolves it: a path that an earlier
 * file has, or that is a folder of another file, compared without case, is renamed
 * `name.1.ext`, `name.2.ext`… (the first free one). Paths include the torrent's name.
 */
export function uniquePaths(paths: readonly string[][]): string[][] {
	const key = (parts: readonly string[]) => parts.join('/').toLowerCase();
	const folders = new Set<string>();
	for (const parts of paths) {
		for (let depth = 1; depth < parts.length; depth++) {
			folders.add(key(parts.slice(0, depth)));
		}
	}

	const taken = new Set<string>();
	return paths.map((parts) => {
		let candidate = parts;
		for (let suffix = 1; taken.has(key(candidate)) || folders.has(key(candidate)); suffix++) {
			candidate = [...parts.slice(0, -1), withSuffix(parts.at(-1) ?? '_', suffix)];
		}

		taken.add(key(candidate));
		return candidate;
	});
}

/** `name.ext` → `name.N.ext`; `name` → `name.N`. */
function withSuffix(name: string, suffix: number): string {
	const dot = name.lastIndexOf('.');
	return dot > 0 ? `${name.slice(0, dot)}.${suffix}${name.slice(dot)}` : `${name}.${suffix}`;
}
