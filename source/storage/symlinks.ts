import {lstat, readlink, realpath, symlink} from 'node:fs/promises';
import path from 'node:path';
import type {FileEntry} from '../codec/metainfo.js';
import {linkTargetText} from '../codec/symlink-path.js';
import {StorageError} from '../errors.js';
import {isInside, makeFolderInside, payloadPath} from './paths.js';

/**
 * The links of a torrent (BEP 47 `attr` `l`), made on disk as relative symbolic links. A
 * torrent is a stranger's: a link is made only where its target, followed from the torrent's
 * folder and through any link already on the way, stays inside that folder. A link is never made
 * through a link that leaves the output folder, and never replaces anything: whatever is at its
 * place (a file, a folder, another link) is left alone and the link skipped, unless it is the
 * same link (a run again over the same folder).
 */

/** A link not made, and why. `path` and `target` are from the torrent's name down. */
export type SkippedLink = {path: string; target: string; reason: string};

/** The most links followed on the way to a target, as Linux's own limit (`ELOOP`). */
const maxLinksFollowed = 40;

/** Why a link is not made: its own message, never a stack (the reason goes in an event). */
class Skip extends Error {
	override name = 'Skip';
}

/** What the error of a failed call means for the link; node's codes are in the message. */
function reasonOf(error: unknown): string {
	if (error instanceof Skip || error instanceof StorageError) {
		return error.message;
	}

	const code = (error as NodeJS.ErrnoException | undefined)?.code;
	return code === 'ELOOP'
		? 'its target is a loop of links'
		: code === 'ENOTDIR'
			? 'its target goes through a file as if it were a folder'
			: code === 'EPERM' || code === 'EACCES'
				? `the file system refused it (${code})`
				: `it could not be made: ${error instanceof Error ? error.message : String(error)}`;
}

/**
 * Where `file` really is, every link on the way followed, though its end need not exist: the
 * real path of what exists, and the rest as written. A link that leads nowhere is followed by
 * its text, so that a target through it is judged by where it will lead.
 */
async function physicalPath(file: string, budget: {links: number}): Promise<string> {
	try {
		return await realpath(file);
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
			throw error;
		}
	}

	const parent = path.dirname(file);
	if (parent === file) {
		return file;
	}

	const there = path.join(await physicalPath(parent, budget), path.basename(file));
	const stats = await lstat(there).catch(() => undefined);
	if (!stats?.isSymbolicLink()) {
		return there;
	}

	budget.links -= 1;
	if (budget.links < 0) {
		throw new Skip('its target is a loop of links');
	}

	return physicalPath(path.resolve(path.dirname(there), await readlink(there)), budget);
}

/**
 * The text of the link `file` (a link's entry of a multi-file torrent), relative to the folder
 * it is made in (returned too): checked to lead inside the torrent's folder from there.
 */
async function linkText(outputDir: string, file: FileEntry): Promise<{folder: string; text: string}> {
	const [name] = file.path;
	if (name === undefined || file.path.length < 2 || !file.symlinkTarget) {
		throw new Skip('a single-file torrent has no folder for a link to point into');
	}

	const linkPath = payloadPath(outputDir, file.path);
	const root = payloadPath(outputDir, [name]);
	// BEP 47: relative to the torrent's folder. `..` in front (metainfo.ts), or a component the
	// parser would not have let through, must not take it anywhere else.
	const target = path.resolve(root, ...file.symlinkTarget);
	if (!isInside(root, target)) {
		throw new Skip("its target is outside the torrent's folder");
	}

	if (isInside(linkPath, target)) {
		throw new Skip('its target is the link itself, or below it');
	}

	// Folders one at a time, none through a link that leaves the output folder.
	await makeFolderInside(outputDir, path.dirname(linkPath));
	// The text as the torrent means it (a link to a link stays one, so a run again makes the same
	// text), judged where the kernel will follow it: from the folder the link really is in.
	const text = path.relative(path.dirname(linkPath), target) || '.';
	const [realRoot, folder] = await Promise.all([realpath(root), realpath(path.dirname(linkPath))]);
	const leadsTo = await physicalPath(path.resolve(folder, text), {links: maxLinksFollowed});
	if (!isInside(realRoot, leadsTo)) {
		throw new Skip("its target leads out of the torrent's folder through a link already there");
	}

	return {folder, text};
}

/** Makes one link, or says why not; an identical link already at its place counts as made. */
async function makeLink(outputDir: string, file: FileEntry): Promise<string | undefined> {
	try {
		const {folder, text} = await linkText(outputDir, file);
		const place = path.join(folder, path.basename(payloadPath(outputDir, file.path)));
		try {
			// symlink(2) never follows or replaces what is at its place.
			await symlink(text, place);
			return undefined;
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
				throw error;
			}
		}

		const there = await lstat(place);
		if (there.isSymbolicLink() && (await readlink(place)) === text) {
			return undefined;
		}

		return there.isSymbolicLink()
			? 'another link is already at its place'
			: there.isDirectory()
				? 'a folder is already at its place'
				: 'a file is already at its place';
	} catch (error) {
		return reasonOf(error);
	}
}

/**
 * Makes the torrent's links (its files with a `symlinkTarget`, pad files never) below
 * `outputDir`, after its regular files are made, one at a time in the torrent's order (a link
 * may lead through one made before it). Never fails: a link that cannot or may not be made is
 * skipped, and returned with the reason.
 */
export async function makeSymlinks(outputDir: string, files: readonly FileEntry[]): Promise<SkippedLink[]> {
	const skipped: SkippedLink[] = [];
	for (const file of files) {
		if (file.symlinkTarget === undefined || file.pad) {
			continue;
		}

		const reason = await makeLink(outputDir, file);
		if (reason !== undefined) {
			skipped.push({path: file.path.join('/'), target: linkTargetText(file), reason});
		}
	}

	return skipped;
}
