import {randomBytes} from 'node:crypto';
import {
	closeSync,
	constants,
	fstatSync,
	lstatSync,
	mkdirSync,
	openSync,
	realpathSync,
	renameSync,
	rmSync,
	type Stats,
	writeFileSync,
} from 'node:fs';
import {type FileHandle, link, lstat, mkdir, open, readFile, realpath, rename, rm} from 'node:fs/promises';
import path from 'node:path';
import {StorageError} from '../errors.js';
import {isInside, makeFolderInside} from './paths.js';

/**
 * Every file torrent-rx writes is opened here: payload files, the resume files, the DHT's state,
 * the .torrent saved from a magnet link, the history log. Someone else who can write to the output
 * folder may plant links in it, before our checks or between a check and the open: a file is never
 * opened through a link at its own name (`O_NOFOLLOW`), and after the open the file we hold is
 * compared (device and inode) with the file at the real, checked path, so a folder swapped for a
 * link in between is caught too. Temporary files get random names and `O_EXCL`: one planted in
 * advance cannot be guessed, and one planted at the same moment makes the open fail.
 */

/** The folder in the output folder that holds our state (resume files, `dht.json`). */
export const stateFolderName = '.torrent-rx';

const noFollow = constants.O_NOFOLLOW ?? 0;
const createNew = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL;

function outsideError(file: string): StorageError {
	return new StorageError(`refusing to write outside the output folder: ${file}`);
}

function linkError(file: string, cause?: unknown): StorageError {
	return new StorageError(`refusing to write through a link that leaves the output folder: ${file}`, {cause});
}

function sameFile(a: Stats, b: Stats): boolean {
	return a.dev === b.dev && a.ino === b.ino;
}

/** `ELOOP` is what `O_NOFOLLOW` answers for a link at the name itself. */
function openError(file: string, error: unknown): unknown {
	return (error as NodeJS.ErrnoException).code === 'ELOOP' ? linkError(file, error) : error;
}

async function assertOpenedInside(root: string, file: string, opened: Stats): Promise<void> {
	const [realRoot, realFolder] = await Promise.all([realpath(root), realpath(path.dirname(file))]);
	const there = await lstat(path.join(realFolder, path.basename(file))).catch(() => undefined);
	if (!isInside(realRoot, realFolder) || !there || !sameFile(there, opened)) {
		throw linkError(file);
	}
}

/**
 * Opens `file`, which must lie below `root`, with `flags` (and its folders below `root` first,
 * with `O_CREAT`); never through a link, neither at its name nor on the way (see above).
 */
export async function openInside(root: string, file: string, flags: number): Promise<FileHandle> {
	const target = path.resolve(file);
	if (!isInside(path.resolve(root), target)) {
		throw outsideError(file);
	}

	if (flags & constants.O_CREAT) {
		await mkdir(root, {recursive: true});
		await makeFolderInside(root, path.dirname(target));
	}

	const handle = await open(target, flags | noFollow).catch((error: unknown) => {
		throw openError(file, error);
	});
	try {
		await assertOpenedInside(root, target, await handle.stat());
	} catch (error) {
		await handle.close();
		throw error;
	}

	return handle;
}

/** A temporary name beside `file` that nobody can have planted: 64 random bits. */
function temporaryName(file: string): string {
	return `${file}.${randomBytes(8).toString('hex')}.tmp`;
}

/** Writes `data` to a new temporary file beside `file` (below `root`), and returns its name. */
async function writeTemporary(root: string, file: string, data: string | Buffer): Promise<string> {
	const temporary = temporaryName(file);
	const handle = await openInside(root, temporary, createNew);
	try {
		await handle.writeFile(data);
	} catch (error) {
		await handle.close();
		// A full disk must not also collect a half-written file per save.
		await rm(temporary, {force: true}).catch(() => undefined);
		throw error;
	}

	await handle.close();
	return temporary;
}

/**
 * Replaces `file` (below `root`) with `data` atomically: a crash leaves the old file or the new
 * one, never half of one. A link at `file` is replaced, not followed (rename does not follow).
 */
export async function replaceInside(root: string, file: string, data: string | Buffer): Promise<void> {
	const temporary = await writeTemporary(root, file, data);
	try {
		await rename(temporary, file);
	} catch (error) {
		await rm(temporary, {force: true}).catch(() => undefined);
		throw error;
	}
}

/**
 * Creates `file` (below `root`) with `data`, atomically, unless something of that name exists:
 * then returns false and leaves it alone (`link` never replaces, unlike `rename`).
 */
export async function createInside(root: string, file: string, data: string | Buffer): Promise<boolean> {
	const temporary = await writeTemporary(root, file, data);
	try {
		await link(temporary, file);
		return true;
	} catch (error) {
		if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
			return false;
		}

		throw error;
	} finally {
		await rm(temporary, {force: true}).catch(() => undefined);
	}
}

/** Reads one of our files, never through a link at its name; undefined when there is none to read. */
export async function readOwnFile(file: string): Promise<Buffer | undefined> {
	const handle = await open(file, constants.O_RDONLY | noFollow).catch(() => undefined);
	if (!handle) {
		return undefined;
	}

	try {
		return (await handle.stat()).isFile() ? await readFile(handle) : undefined;
	} finally {
		await handle.close();
	}
}

/**
 * Opens a log file for appending, never through a link at its name, and only if it is (or becomes)
 * a regular file: a FIFO planted there would otherwise block the open, a device would be written.
 */
export async function openLogFile(file: string): Promise<FileHandle> {
	await mkdir(path.dirname(file), {recursive: true});
	const flags = constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NONBLOCK | noFollow;
	const handle = await open(file, flags).catch((error: unknown) => {
		const {code} = error as NodeJS.ErrnoException;
		throw code === 'ELOOP'
			? new StorageError(`refusing to write the log through a link: ${file}`, {cause: error})
			: // A FIFO nobody reads, opened without blocking.
				code === 'ENXIO'
				? new StorageError(`${file} exists and is not a regular file`, {cause: error})
				: new StorageError(`cannot open ${file}`, {cause: error});
	});
	if (!(await handle.stat()).isFile()) {
		await handle.close();
		throw new StorageError(`${file} exists and is not a regular file`);
	}

	return handle;
}

/** `makeFolderInside`, for the few writes that must finish before a synchronous teardown returns. */
function makeFolderInsideSync(root: string, folder: string): void {
	mkdirSync(root, {recursive: true});
	const realRoot = realpathSync(root);
	let current = path.resolve(root);
	for (const part of path.relative(current, folder).split(path.sep).filter(Boolean)) {
		current = path.join(current, part);
		try {
			mkdirSync(current);
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
				throw error;
			}
		}

		if (!isInside(realRoot, realpathSync(current))) {
			throw linkError(current);
		}
	}
}

/** `replaceInside`, synchronous: for state saved in a teardown, which cannot wait for a Promise. */
export function replaceInsideSync(root: string, file: string, data: string | Buffer): void {
	const target = path.resolve(file);
	if (!isInside(path.resolve(root), target)) {
		throw outsideError(file);
	}

	makeFolderInsideSync(root, path.dirname(target));
	const temporary = temporaryName(target);
	let fd: number;
	try {
		fd = openSync(temporary, createNew | noFollow);
	} catch (error) {
		throw openError(temporary, error);
	}

	let open = true;
	try {
		const realFolder = realpathSync(path.dirname(target));
		const there = lstatSync(path.join(realFolder, path.basename(temporary)), {throwIfNoEntry: false});
		if (!isInside(realpathSync(root), realFolder) || !there || !sameFile(there, fstatSync(fd))) {
			throw linkError(temporary);
		}

		writeFileSync(fd, data);
		open = false;
		closeSync(fd);
		renameSync(temporary, target);
	} catch (error) {
		if (open) {
			closeSync(fd);
		}

		rmSync(temporary, {force: true});
		throw error;
	}
}
