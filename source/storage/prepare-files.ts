import {constants} from 'node:fs';
import {type FileHandle, lstat, mkdir} from 'node:fs/promises';
import {StorageError} from '../errors.js';
import type {StorageLayout} from './layout.js';
import {openInside} from './own-files.js';
import type {PartsFile} from './parts-file.js';

/**
 * Where a file's bytes live: `file`, its own file; `parts`, the parts file (a file not selected
 * and not on disk: its part of the pieces it shares with selected files); `none`, nowhere (a
 * pad file's known zeros, BEP 47).
 */
export type Placement = 'file' | 'parts' | 'none';

/** What opening the files found and did, file by file. */
export type PreparedFiles = {
	placement: Placement[];
	/** It was there, non-empty, or its bytes were brought from the parts file: it may hold verified data. */
	preexisting: boolean[];
	/** It was not there and was made now: what the resume file says of its bytes needs a hash check. */
	createdNow: boolean[];
};

/** Why a file could not be made, in one line. */
export function storageError(action: string, file: string, error: unknown): StorageError {
	if (error instanceof StorageError) {
		// Already says what and why (a link refused, a file that is not a regular one).
		return error;
	}

	const code = (error as NodeJS.ErrnoException | undefined)?.code;
	const reason =
		code === 'ENOSPC' ? 'disk full' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : undefined;
	return new StorageError(`cannot ${action} ${file}${reason ? `: ${reason}` : ''}`, {cause: error});
}

/** BEP 47 `attr` `x`: executable by whoever may read it, as `chmod +x` under the usual umask. */
async function makeExecutable(handle: FileHandle): Promise<void> {
	const mode = (await handle.stat()).mode & 0o777;
	await handle.chmod(mode | ((mode & 0o444) >> 2));
}

/**
 * Copies what the parts file holds of file `fileIndex` into it, piece by piece: the file was
 * not selected before, and now is. Returns whether anything was copied; the copy is flushed to
 * the device, since the parts file may be deleted next.
 */
async function importFromParts(
	layout: StorageLayout,
	parts: PartsFile,
	fileIndex: number,
	handle: FileHandle,
): Promise<boolean> {
	const file = layout.files[fileIndex];
	if (!file || file.length === 0) {
		return false;
	}

	let copied = false;
	const first = Math.floor(file.offset / layout.pieceLength);
	const last = Math.floor((file.offset + file.length - 1) / layout.pieceLength);
	for (let index = first; index <= last; index++) {
		if (parts.has(index)) {
			for (const span of layout.spans(index).filter((each) => each.fileIndex === fileIndex)) {
				const bytes = Buffer.allocUnsafe(span.length);
				await parts.read(index, span.pieceOffset, bytes, 0, span.length);
				await handle.write(bytes, 0, span.length, span.fileOffset);
				copied = true;
			}
		}
	}

	if (copied) {
		await handle.sync();
	}

	return copied;
}

/** Whether the parts file holds bytes of file `fileIndex`. */
function partsHold(layout: StorageLayout, parts: PartsFile | undefined, fileIndex: number): boolean {
	const file = layout.files[fileIndex];
	if (!parts || parts.empty || !file || file.length === 0) {
		return false;
	}

	const first = Math.floor(file.offset / layout.pieceLength);
	const last = Math.floor((file.offset + file.length - 1) / layout.pieceLength);
	for (let index = first; index <= last; index++) {
		if (parts.has(index)) {
			return true;
		}
	}

	return false;
}

/**
 * Whether a file not selected is on disk as a file of the torrent: a regular file of its length
 * (an earlier run selected it). Anything else there is left alone, never truncated or written:
 * the file's bytes go to the parts file instead.
 */
async function holdsItsBytes(filePath: string, length: number): Promise<boolean> {
	const existing = await lstat(filePath).catch(() => undefined);
	return existing?.isFile() === true && existing.size === length;
}

/**
 * Makes file `index` at its exact length (sparse) with its folders, without touching existing
 * bytes; bytes of it kept in the parts file are brought in when it is made now.
 */
async function prepareOne(
	layout: StorageLayout,
	root: string,
	filePath: string,
	index: number,
	parts: PartsFile | undefined,
): Promise<{preexisting: boolean; createdNow: boolean}> {
	const file = layout.files[index];
	const existing = await lstat(filePath).catch(() => undefined);
	if (existing && !existing.isFile()) {
		throw new StorageError(`${filePath} exists and is not a regular file`);
	}

	const handle = await openInside(root, filePath, constants.O_RDWR | constants.O_CREAT);
	try {
		if ((existing?.size ?? 0) !== file?.length) {
			await handle.truncate(file?.length ?? 0);
		}

		if (file?.attributes?.includes('x')) {
			await makeExecutable(handle);
		}

		const imported =
			!existing && parts !== undefined && (await importFromParts(layout, parts, index, handle));
		return {preexisting: (existing?.size ?? 0) > 0 || imported, createdNow: !existing};
	} finally {
		await handle.close();
	}
}

/**
 * Opens the ground for a run: every selected file made (all when `selected` is absent), a file
 * not selected used where it is if it is there at its length and kept in the parts file if not
 * (whatever is in its place then is left alone), pad files never
 * made (BEP 47: their bytes are known zeros). A parts file no file is kept in any longer is
 * deleted, its bytes now in their files.
 */
export async function prepareFiles(
	layout: StorageLayout,
	root: string,
	paths: readonly string[],
	selected: readonly boolean[] | undefined,
	parts: PartsFile | undefined,
): Promise<PreparedFiles> {
	await mkdir(root, {recursive: true});
	const prepared: PreparedFiles = {placement: [], preexisting: [], createdNow: []};
	for (const [index, file] of layout.files.entries()) {
		const filePath = paths[index] ?? '';
		// BEP 47: a pad file's bytes are known zeros, never made; a link holds no bytes
		// (storage/symlinks.ts makes it once the store is open).
		const placement: Placement =
			file.pad || file.symlinkTarget
				? 'none'
				: selected && !selected[index] && !(await holdsItsBytes(filePath, file.length))
					? 'parts'
					: 'file';
		prepared.placement.push(placement);
		if (placement !== 'file') {
			prepared.preexisting.push(placement === 'parts' && partsHold(layout, parts, index));
			prepared.createdNow.push(false);
			continue;
		}

		try {
			const {preexisting, createdNow} = await prepareOne(layout, root, filePath, index, parts);
			prepared.preexisting.push(preexisting);
			prepared.createdNow.push(createdNow);
		} catch (error) {
			throw storageError('create', filePath, error);
		}
	}

	if (parts && !parts.empty && !prepared.placement.includes('parts')) {
		await parts.remove();
	}

	return prepared;
}
