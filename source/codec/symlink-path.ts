/**
 * BEP 47 `symlink path`: where a link of the torrent (`attr` `l`) points, below the torrent's
 * folder, its components made safe as a file's are (path-names.ts). What libtorrent 2.0.8 does
 * with the same keys was probed with python3-libtorrent (see README, "File attributes").
 */
import {MetainfoError} from '../errors.js';
import {sanitizeComponent} from './path-names.js';

/** `..`, the one component of a target that climbs; compared on the raw bytes, before sanitising. */
const isParent = (raw: Uint8Array) => raw.length === 2 && raw[0] === 0x2e && raw[1] === 0x2e;

/**
 * The components of a `symlink path`, each made safe as a file path's component: `.` and empty
 * ones dropped, `..` kept (resolved later, against a folder: `resolveTarget`). Undefined when
 * it is no list or nothing is left: the entry is then a regular (empty) file, as libtorrent
 * reads a link without a target. A component that is not a string refuses the torrent, as it
 * does in a file's `path` (and as libtorrent refuses it).
 */
export function symlinkComponents(raw: unknown, where: string): string[] | undefined {
	if (!Array.isArray(raw)) {
		return undefined;
	}

	const components: string[] = [];
	for (const component of raw) {
		if (!(component instanceof Uint8Array)) {
			throw new MetainfoError(`${where}: symlink path component is not a string`);
		}

		const safe = isParent(component)
			? '..'
			: component.length === 0
				? undefined
				: sanitizeComponent(component);
		if (safe !== undefined) {
			components.push(safe);
		}
	}

	return components.length > 0 ? components : undefined;
}

/**
 * `components` followed from `folder` (both below the torrent's folder), each `..` taking back
 * the component before it. The `..` left at the front climb out of the torrent's folder: they
 * are kept, so that the target is shown as the torrent gives it and the link is never made
 * (storage/symlinks.ts refuses a target outside the folder).
 */
export function resolveTarget(folder: readonly string[], components: readonly string[]): string[] {
	const resolved: string[] = [...folder];
	for (const component of components) {
		if (component === '..' && resolved.length > 0 && resolved.at(-1) !== '..') {
			resolved.pop();
		} else {
			resolved.push(component);
		}
	}

	return resolved;
}

/**
 * Each link's target below the torrent's folder. BEP 47 says the target is relative to that
 * folder, but libtorrent's `create_torrent` writes the link's text as it stands on disk, which
 * is relative to the link's own folder, and libtorrent reads it back either way ("for backwards
 * compatibility", `file_storage::sanitize_symlinks`): a target that names no file or folder of
 * the torrent from the top, but does from the link's folder, is taken from there. Otherwise the
 * target stays as BEP 47 reads it, naming something of the torrent or not (a dangling link
 * inside the folder harms nobody). `paths` are below the torrent's folder (no name in front).
 */
export function linkTargets(
	paths: readonly string[][],
	links: ReadonlyArray<readonly string[] | undefined>,
): Array<string[] | undefined> {
	const key = (parts: readonly string[]) => parts.join('/');
	const known = new Set<string>();
	for (const parts of paths) {
		for (let depth = 1; depth <= parts.length; depth++) {
			known.add(key(parts.slice(0, depth)));
		}
	}

	return links.map((components, index) => {
		if (!components) {
			return undefined;
		}

		const fromTop = resolveTarget([], components);
		if (known.has(key(fromTop))) {
			return fromTop;
		}

		const fromLink = resolveTarget((paths[index] ?? []).slice(0, -1), components);
		const target = fromLink[0] !== '..' && known.has(key(fromLink)) ? fromLink : fromTop;
		// The torrent's folder itself (`a/..`) is no target: a regular file, as libtorrent makes `.`.
		return target.length > 0 ? target : undefined;
	});
}

/**
 * A link's target as `info`, the events and the history log show it: from the torrent's name
 * down, as a file's `path` is (`album/sub/b.txt`, or `album/../x` for one that climbs out).
 */
export function linkTargetText(file: {path: readonly string[]; symlinkTarget?: readonly string[]}): string {
	return [...file.path.slice(0, 1), ...(file.symlinkTarget ?? [])].join('/');
}
