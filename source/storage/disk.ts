import {constants} from 'node:fs';
import type {FileHandle} from 'node:fs/promises';
import path from 'node:path';
import {defer, Observable} from 'rxjs';
import {directWritable} from './aligned-memory.js';
import type {FileSpan, StorageLayout} from './layout.js';
import {openInside, stateFolderName} from './own-files.js';
import {PartsFile} from './parts-file.js';
import {payloadPath} from './paths.js';
import {type Placement, prepareFiles, storageError} from './prepare-files.js';
import {WriteCoalescer} from './write-coalescer.js';

/** The payload files as the pipeline sees them. */
export type PieceStore = {
	/** Per file: it was already there, non-empty, when the store opened (so it may hold verified data). */
	preexisting: readonly boolean[];
	/**
	 * Whether piece `index` can be read back whole: false when some of its bytes belong to a file
	 * kept in the parts file that holds none of them. Every piece can when absent.
	 */
	readable?(index: number): boolean;
	/**
	 * Per file: it was not there and this open made it (new, or with bytes brought from the parts
	 * file); what a resume file says of its pieces is checked by hash first. None when absent.
	 */
	createdNow?: readonly boolean[];
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

/** Where each file's bytes are (see `Placement`): known once the files are prepared, before any read or write. */
type Whereabouts = {placement: readonly Placement[]; parts: PartsFile | undefined};

/** Every file in its own file but pad files (BEP 47), which are nowhere: how files are read to make a torrent. */
function ownFiles(layout: StorageLayout): Whereabouts {
	return {placement: layout.files.map((file) => (file.pad ? 'none' : 'file')), parts: undefined};
}

/**
 * Reads the spans given of piece `index` into `into` (at each span's `pieceOffset`), each from
 * where its file's bytes are; `begin` is where `into` starts in the piece. Writes have a path of
 * their own (`pieceWriter`).
 */
type SpanReader = (index: number, begin: number, spans: readonly FileSpan[], into: Buffer) => Promise<void>;

function spanReader(paths: readonly string[], handles: HandleCache, where: Whereabouts): SpanReader {
	const readOne = async (index: number, begin: number, span: FileSpan, into: Buffer): Promise<void> => {
		const placement = where.placement[span.fileIndex] ?? 'file';
		if (placement === 'none') {
			// Pad bytes are known zeros (BEP 47).
			into.fill(0, span.pieceOffset, span.pieceOffset + span.length);
		} else if (placement === 'parts' && where.parts) {
			await where.parts.read(index, begin + span.pieceOffset, into, span.pieceOffset, span.length);
		} else {
			await readFully(
				await handles.get(span.fileIndex),
				into,
				span.pieceOffset,
				span.length,
				span.fileOffset,
			);
		}
	};

	return async (index, begin, spans, into) => {
		await Promise.all(
			spans.map((span) =>
				readOne(index, begin, span, into).catch((error: unknown) => {
					throw storageError('read', paths[span.fileIndex] ?? '', error);
				}),
			),
		);
	};
}

/**
 * Writes pieces, with direct I/O where their memory, length and position allow: the data goes
 * from the piece buffer to the device without a copy into the page cache. On these machines that
 * copy was the largest single cost of a download (a third of its CPU time on a 1 GiB torrent),
 * because every fresh page-cache page is a page the hypervisor has to fault in. A file system
 * that refuses direct I/O gets buffered writes from then on. Bytes of files kept in the parts
 * file go there; pad bytes (BEP 47), verified zeros, nowhere.
 */
function pieceWriter(
	layout: StorageLayout,
	root: string,
	paths: readonly string[],
	handles: HandleCache,
	where: Whereabouts,
) {
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

	const writeSpan = (index: number, data: Buffer, span: FileSpan): Promise<void> => {
		const {fileIndex, fileOffset, pieceOffset, length} = span;
		const slice =
			pieceOffset === 0 && length === data.length ? data : data.subarray(pieceOffset, pieceOffset + length);
		const written =
			where.placement[fileIndex] === 'parts' && where.parts
				? where.parts.write(index, pieceOffset, slice)
				: direct && directWritable(slice, fileOffset)
					? writeDirect(fileIndex, slice, fileOffset)
					: writeBuffered(fileIndex, slice, fileOffset);
		return written.catch((error: unknown) => {
			throw storageError('write', paths[fileIndex] ?? '', error);
		});
	};

	// Most pieces lie in one file: no Promise.all and no array of promises for them.
	const write = (index: number, data: Buffer): Promise<void> => {
		const all = layout.spans(index);
		const spans = all.length === 1 ? all : all.filter((span) => where.placement[span.fileIndex] !== 'none');
		const [only] = spans;
		if (spans.length === 1 && only && where.placement[only.fileIndex] !== 'none') {
			return writeSpan(index, data, only);
		}

		return Promise.all(spans.map((span) => writeSpan(index, data, span))).then(() => undefined);
	};

	return Object.assign(write, {close: () => directHandles.closeAll()});
}

function readPiece(
	layout: StorageLayout,
	index: number,
	read: SpanReader,
	into?: Buffer,
): Observable<Buffer> {
	return defer(async () => {
		const size = layout.pieceSize(index);
		const piece = into ? into.subarray(0, size) : Buffer.allocUnsafe(size);
		await read(index, 0, layout.spans(index), piece);
		return piece;
	});
}

function readSpan(
	layout: StorageLayout,
	index: number,
	begin: number,
	length: number,
	read: SpanReader,
): Observable<Buffer> {
	return defer(async () => {
		if (begin < 0 || length < 0 || begin + length > layout.pieceSize(index)) {
			throw new RangeError(`bytes ${begin}..${begin + length} outside piece ${index}`);
		}

		const bytes = Buffer.allocUnsafe(length);
		await read(index, begin, layout.rangeSpans(index, begin, length), bytes);
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
		const read = spanReader(paths, handles, ownFiles(layout));
		subscriber.next({readPiece: (index, into) => readPiece(layout, index, read, into)});
		return () => {
			void handles.closeAll();
		};
	});
}

/** Which files to download, and where the bytes of those not downloaded go. */
export type StoreOptions = {
	/** Per file of the torrent, whether it is selected; every file when absent. */
	selected?: readonly boolean[];
	/** The parts file (see `PartsFile`), for a torrent with files not selected; none when absent. */
	partsFile?: string;
};

/** The parts file of the torrent `infoHash` in `outputDir`: beside the resume file, in our state folder. */
export function partsFilePath(outputDir: string, infoHash: Buffer): string {
	return path.join(outputDir, stateFolderName, `${infoHash.toString('hex')}.parts`);
}

/** Whether every byte of piece `index` is somewhere to be read: a file kept in the parts file may have none there. */
function readableIn(layout: StorageLayout, where: Whereabouts) {
	return (index: number) =>
		layout
			.spans(index)
			.every((span) => where.placement[span.fileIndex] !== 'parts' || where.parts?.has(index));
}

/**
 * Opens the payload files under `root` for the duration of the subscription: emits one
 * `PieceStore`, and closes every file on teardown. With a selection, files not selected are
 * not made (see `prepareFiles`).
 */
export function openPieceStore(
	layout: StorageLayout,
	root: string,
	options: StoreOptions = {},
): Observable<PieceStore> {
	return defer(() => {
		const paths = layout.files.map((file) => payloadPath(root, file.path));
		const handles = new HandleCache(root, paths, constants.O_RDWR);
		const where: Whereabouts = ownFiles(layout);
		const read = spanReader(paths, handles, where);
		const writePiece = pieceWriter(layout, root, paths, handles, where);
		const store: Omit<PieceStore, 'preexisting'> = {
			writePiece: (index, data) => defer(() => writePiece(index, data)),
			readPiece: (index, into) => readPiece(layout, index, read, into),
			readSpan: (index, begin, length) => readSpan(layout, index, begin, length, read),
		};
		const open = async (): Promise<PieceStore> => {
			where.parts = options.partsFile
				? await PartsFile.open(root, options.partsFile, layout.pieceCount, layout.pieceLength)
				: undefined;
			const prepared = await prepareFiles(layout, root, paths, options.selected, where.parts);
			where.placement = prepared.placement;
			return {
				...store,
				preexisting: prepared.preexisting,
				createdNow: prepared.createdNow,
				readable: readableIn(layout, where),
			};
		};

		return new Observable<PieceStore>((subscriber) => {
			open().then(
				(opened) => subscriber.next(opened),
				(error: unknown) => subscriber.error(error),
			);
			return () => {
				void handles.closeAll();
				void writePiece.close();
				void where.parts?.close();
			};
		});
	});
}
