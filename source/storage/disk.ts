import {constants} from 'node:fs';
import {type FileHandle, lstat, mkdir} from 'node:fs/promises';
import {defer, Observable} from 'rxjs';
import {StorageError} from '../errors.js';
import {directWritable} from './aligned-memory.js';
import type {FileSpan, StorageLayout} from './layout.js';
import {openInside} from './own-files.js';
import {payloadPath} from './paths.js';
import {WriteCoalescer} from './write-coalescer.js';

/** The payload files as the pipeline sees them. */
export type PieceStore = {
	/** Per file: it was already there, non-empty, when the store opened (so it may hold verified data). */
	preexisting: readonly boolean[];
	/** Writes a verified piece to its files at their positions. */
	writePiece(index: number, data: Buffer): Observable<void>;
	/** Reads piece `index` back (for resume checks and serving peers), into `into` when given. */
	readPiece(index: number, into?: Buffer): Observable<Buffer>;
	/**
	 * Reads bytes `begin .. begin + length` of piece `index` alone (serving peers: a 16 KiB block
	 * of a 16 MiB piece must not cost a read of the whole piece). Stores without it (in-memory
	 * ones in tests) are read a whole piece at a time.
	 */
	readSpan?(index: number, begin: number, length: number): Observable<Buffer>;
};

/** Torrents with thousands of files must not exhaust descriptors: keep at most this many open. */
const maxOpenFiles = 64;

function storageError(action: string, file: string, error: unknown): StorageError {
	if (error instanceof StorageError) {
		// Already says what and why (a link refused, a file that is not a regular one).
		return error;
	}

	const code = (error as NodeJS.ErrnoException | undefined)?.code;
	const reason =
		code === 'ENOSPC' ? 'disk full' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : undefined;
	return new StorageError(`cannot ${action} ${file}${reason ? `: ${reason}` : ''}`, {cause: error});
}

/**
 * Opened file handles, least recently used closed first. Every open, the first and the ones
 * after an eviction, goes through `openInside`: a file swapped for a link since the last check
 * is refused, not followed.
 */
class HandleCache {
	readonly #handles = new Map<number, Promise<FileHandle>>();

	constructor(
		readonly root: string,
		readonly paths: readonly string[],
		readonly flags: number,
	) {}

	get(fileIndex: number): Promise<FileHandle> {
		const cached = this.#handles.get(fileIndex);
		if (cached) {
			// Re-insert to mark it most recently used.
			this.#handles.delete(fileIndex);
			this.#handles.set(fileIndex, cached);
			return cached;
		}

		if (this.#handles.size >= maxOpenFiles) {
			const [oldestIndex, oldest] = this.#handles.entries().next().value ?? [];
			if (oldestIndex !== undefined && oldest) {
				this.#handles.delete(oldestIndex);
				void oldest.then((handle) => handle.close()).catch(() => undefined);
			}
		}

		const filePath = this.paths[fileIndex] ?? '';
		const opening = openInside(this.root, filePath, this.flags);
		this.#handles.set(fileIndex, opening);
		opening.catch(() => this.#handles.delete(fileIndex));
		return opening;
	}

	async closeAll(): Promise<void> {
		const handles = [...this.#handles.values()];
		this.#handles.clear();
		await Promise.allSettled(handles.map(async (handle) => (await handle).close()));
	}
}

/**
 * Creates every file at its exact length (sparse), with its folders, without touching existing
 * bytes. Returns, per file, whether it was already there with data in it.
 */
async function prepareFiles(
	layout: StorageLayout,
	root: string,
	paths: readonly string[],
): Promise<boolean[]> {
	await mkdir(root, {recursive: true});
	const preexisting: boolean[] = [];
	for (const [index, file] of layout.files.entries()) {
		const filePath = paths[index] ?? '';
		if (file.pad) {
			// BEP 47: a pad file's bytes are known zeros; it is never made.
			preexisting.push(false);
			continue;
		}

		if (file.symlinkTarget) {
			// BEP 47: a link holds no bytes; storage/symlinks.ts makes it once the store is open.
			preexisting.push(false);
			continue;
		}

		try {
			const existing = await lstat(filePath).catch(() => undefined);
			if (existing && !existing.isFile()) {
				throw new StorageError(`${filePath} exists and is not a regular file`);
			}

			preexisting.push((existing?.size ?? 0) > 0);
			const handle = await openInside(root, filePath, constants.O_RDWR | constants.O_CREAT);
			try {
				if ((existing?.size ?? 0) !== file.length) {
					await handle.truncate(file.length);
				}

				if (file.attributes?.includes('x')) {
					await makeExecutable(handle);
				}
			} finally {
				await handle.close();
			}
		} catch (error) {
			throw storageError('create', filePath, error);
		}
	}

	return preexisting;
}

/** BEP 47 `attr` `x`: executable by whoever may read it, as `chmod +x` under the usual umask. */
async function makeExecutable(handle: FileHandle): Promise<void> {
	const mode = (await handle.stat()).mode & 0o777;
	await handle.chmod(mode | ((mode & 0o444) >> 2));
}

/** Reads all of `length` bytes; a file shorter than the layout says is an error, not zeros. */
async function readFully(handle: FileHandle, into: Buffer, offset: number, length: number, position: number) {
	let read = 0;
	while (read < length) {
		const {bytesRead} = await handle.read(into, offset + read, length - read, position + read);
		if (bytesRead === 0) {
			throw new Error('file is shorter than the torrent says');
		}

		read += bytesRead;
	}
}

/** Reads each of the file spans given (writes have a path of their own: `pieceWriter`). */
type SpanVisitor = (
	spans: readonly FileSpan[],
	action: (handle: FileHandle, span: FileSpan) => Promise<void>,
) => Promise<void>;

function spanVisitor(paths: readonly string[], handles: HandleCache): SpanVisitor {
	return async (spans, action) => {
		await Promise.all(
			spans.map(async (span) => {
				try {
					await action(await handles.get(span.fileIndex), span);
				} catch (error) {
					throw storageError('read', paths[span.fileIndex] ?? '', error);
				}
			}),
		);
	};
}

/**
 * Writes pieces, with direct I/O where their memory, length and position allow: the data goes
 * from the piece buffer to the device without a copy into the page cache. On these machines that
 * copy was the largest single cost of a download (a third of its CPU time on a 1 GiB torrent),
 * because every fresh page-cache page is a page the hypervisor has to fault in. A file system
 * that refuses direct I/O gets buffered writes from then on.
 */
function pieceWriter(layout: StorageLayout, root: string, paths: readonly string[], handles: HandleCache) {
	const directHandles = new HandleCache(root, paths, constants.O_WRONLY | (constants.O_DIRECT ?? 0));
	let direct = constants.O_DIRECT !== undefined;
	const writers = layout.files.map(() => new WriteCoalescer());
	const writeBuffered = async (fileIndex: number, data: Buffer, position: number): Promise<void> =>
		writers[fileIndex]?.write(await handles.get(fileIndex), data, position);
	const writeDirect = async (fileIndex: number, data: Buffer, position: number): Promise<void> => {
		try {
			await writers[fileIndex]?.write(await directHandles.get(fileIndex), data, position);
		} catch (error) {
			if ((error as NodeJS.ErrnoException).code !== 'EINVAL') {
				throw error;
			}

			direct = false;
			await writeBuffered(fileIndex, data, position);
		}
	};

	const writeSpan = (data: Buffer, {fileIndex, fileOffset, pieceOffset, length}: FileSpan): Promise<void> => {
		const slice =
			pieceOffset === 0 && length === data.length ? data : data.subarray(pieceOffset, pieceOffset + length);
		const written =
			direct && directWritable(slice, fileOffset)
				? writeDirect(fileIndex, slice, fileOffset)
				: writeBuffered(fileIndex, slice, fileOffset);
		return written.catch((error: unknown) => {
			throw storageError('write', paths[fileIndex] ?? '', error);
		});
	};

	// Most pieces lie in one file: no Promise.all and no array of promises for them.
	const write = (index: number, data: Buffer): Promise<void> => {
		// Pad bytes are verified zeros with no file to go to.
		const spans = layout.hasPadFiles
			? layout.spans(index).filter((span) => !layout.files[span.fileIndex]?.pad)
			: layout.spans(index);
		const [only] = spans;
		return spans.length === 1 && only
			? writeSpan(data, only)
			: Promise.all(spans.map((span) => writeSpan(data, span))).then(() => undefined);
	};

	return Object.assign(write, {close: () => directHandles.closeAll()});
}

/**
 * The spans of `spans` that are on disk; those of pad files (BEP 47), which are not, are their
 * zeros in `into` instead.
 */
function onDisk(layout: StorageLayout, spans: FileSpan[], into: Buffer): FileSpan[] {
	if (!layout.hasPadFiles) {
		return spans;
	}

	return spans.filter((span) => {
		if (!layout.files[span.fileIndex]?.pad) {
			return true;
		}

		into.fill(0, span.pieceOffset, span.pieceOffset + span.length);
		return false;
	});
}

function readPiece(
	layout: StorageLayout,
	index: number,
	onEachSpan: SpanVisitor,
	into?: Buffer,
): Observable<Buffer> {
	return defer(async () => {
		const size = layout.pieceSize(index);
		const piece = into ? into.subarray(0, size) : Buffer.allocUnsafe(size);
		await onEachSpan(onDisk(layout, layout.spans(index), piece), (handle, span) =>
			readFully(handle, piece, span.pieceOffset, span.length, span.fileOffset),
		);
		return piece;
	});
}

function readSpan(
	layout: StorageLayout,
	index: number,
	begin: number,
	length: number,
	onEachSpan: SpanVisitor,
): Observable<Buffer> {
	return defer(async () => {
		if (begin < 0 || length < 0 || begin + length > layout.pieceSize(index)) {
			throw new RangeError(`bytes ${begin}..${begin + length} outside piece ${index}`);
		}

		const bytes = Buffer.allocUnsafe(length);
		await onEachSpan(onDisk(layout, layout.rangeSpans(index, begin, length), bytes), (handle, span) =>
			readFully(handle, bytes, span.pieceOffset, span.length, span.fileOffset),
		);
		return bytes;
	});
}

/**
 * Opens existing payload files under `root` read-only, to hash them (torrent creation). Emits
 * one reader and closes the files on teardown.
 */
export function openPieceReader(
	layout: StorageLayout,
	root: string,
): Observable<Pick<PieceStore, 'readPiece'>> {
	return new Observable((subscriber) => {
		const paths = layout.files.map((file) => payloadPath(root, file.path));
		const handles = new HandleCache(root, paths, constants.O_RDONLY);
		const onEachSpan = spanVisitor(paths, handles);
		subscriber.next({readPiece: (index, into) => readPiece(layout, index, onEachSpan, into)});
		return () => {
			void handles.closeAll();
		};
	});
}

/**
 * Opens the payload files under `root` for the duration of the subscription: emits one
 * `PieceStore`, and closes every file on teardown.
 */
export function openPieceStore(layout: StorageLayout, root: string): Observable<PieceStore> {
	return defer(() => {
		const paths = layout.files.map((file) => payloadPath(root, file.path));
		const handles = new HandleCache(root, paths, constants.O_RDWR);
		const onEachSpan = spanVisitor(paths, handles);
		const writePiece = pieceWriter(layout, root, paths, handles);
		const store: Omit<PieceStore, 'preexisting'> = {
			writePiece: (index, data) => defer(() => writePiece(index, data)),
			readPiece: (index, into) => readPiece(layout, index, onEachSpan, into),
			readSpan: (index, begin, length) => readSpan(layout, index, begin, length, onEachSpan),
		};

		return new Observable<PieceStore>((subscriber) => {
			prepareFiles(layout, root, paths).then(
				(preexisting) => subscriber.next({...store, preexisting}),
				(error: unknown) => subscriber.error(error),
			);
			return () => {
				void handles.closeAll();
				void writePiece.close();
			};
		});
	});
}
