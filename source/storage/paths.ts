import {mkdir, realpath} from 'node:fs/promises';
import path from 'node:path';
import {StorageError} from '../errors.js';

/** True when `child` is `parent` or lies below it, comparing resolved absolute paths. */
export function isInside(parent: string, child: string): boolean {
	const relative = path.relative(parent, child);
	return relative === '' || (!relative.startsWith('..') && !path.isAbsolute(relative));
}

/**
 * The absolute path of a torrent file under the output folder. The components were validated by
 * the metainfo parser; this is the second fence, against joins that still escape.
 */
export function payloadPath(root: string, components: readonly string[]): string {
	const target = path.resolve(root, ...components);
	if (!isInside(path.resolve(root), target)) {
		throw new StorageError(`refusing to write outside the output folder: ${components.join('/')}`);
	}

	return target;
}

/** Refuses a folder that, through a symbolic link, really lives outside the output folder. */
export async function assertRealPathInside(root: string, folder: string): Promise<void> {
	const [realRoot, realFolder] = await Promise.all([realpath(root), realpath(folder)]);
	if (!isInside(realRoot, realFolder)) {
		throw new StorageError(`refusing to write through a link that leaves the output folder: ${folder}`);
	}
}

/**
 * Creates `folder` below `root` one level at a time, checking each level before going deeper:
 * a symbolic link on the way that leads outside is refused before anything is created past it.
 */
export async function makeFolderInside(root: string, folder: string): Promise<void> {
	let current = path.resolve(root);
	for (const part of path.relative(current, folder).split(path.sep).filter(Boolean)) {
		current = path.join(current, part);
		try {
			await mkdir(current);
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
				throw error;
			}
		}

		await assertRealPathInside(root, current);
	}
}
