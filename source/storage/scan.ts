import {lstat, readdir} from 'node:fs/promises';
import path from 'node:path';
import type {FileEntry} from '../codec/metainfo.js';
import {StorageError} from '../errors.js';

export type ScannedPayload = {
	name: string;
	/** The folder that holds `name`: the files' paths are relative to it. */
	parent: string;
	files: FileEntry[];
	multiFile: boolean;
};

/** Every regular file below `folder`, as path components, sorted byte-wise so that the order never depends on the file system. */
async function listFiles(folder: string, prefix: string[]): Promise<string[][]> {
	const entries = await readdir(folder, {withFileTypes: true});
	const names = entries
		.map((entry) => entry.name)
		.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
	const files: string[][] = [];
	for (const name of names) {
		const full = path.join(folder, name);
		const stats = await lstat(full);
		if (stats.isDirectory()) {
			files.push(...(await listFiles(full, [...prefix, name])));
		} else if (stats.isFile()) {
			files.push([...prefix, name]);
		}
		// Links and special files are left out: a torrent holds file contents, not links.
	}

	return files;
}

/** The files of a payload to make a torrent of: a single file, or a folder's files in a fixed order. */
export async function scanPayload(target: string): Promise<ScannedPayload> {
	const absolute = path.resolve(target);
	const stats = await lstat(absolute).catch((error: unknown) => {
		throw new StorageError(`cannot read ${target}`, {cause: error});
	});
	const name = path.basename(absolute);
	const parent = path.dirname(absolute);
	if (stats.isFile()) {
		return {name, parent, files: [{path: [name], length: stats.size, offset: 0}], multiFile: false};
	}

	if (!stats.isDirectory()) {
		throw new StorageError(`${target} is neither a file nor a folder`);
	}

	const relativePaths = await listFiles(absolute, []);
	if (relativePaths.length === 0) {
		throw new StorageError(`${target} holds no files`);
	}

	let offset = 0;
	const files: FileEntry[] = [];
	for (const relative of relativePaths) {
		const {size} = await lstat(path.join(absolute, ...relative));
		files.push({path: [name, ...relative], length: size, offset});
		offset += size;
	}

	return {name, parent, files, multiFile: true};
}
