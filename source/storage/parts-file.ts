import {constants} from 'node:fs';
import type {FileHandle} from 'node:fs/promises';
import {rm} from 'node:fs/promises';
import {openInside} from './own-files.js';

/**
 * The file beside the payload that holds the bytes of pieces a selected and an unselected file
 * share, the unselected file's part of them: a piece is verified whole, and those bytes must
 * neither be thrown away (a later run may select that file) nor go into a file the user did
 * not ask for. libtorrent keeps a `.parts` file the same way (`part_file`).
 *
 * Layout: a header (magic, version, piece count, piece length), a slot table of one 32-bit
 * entry per piece (0: none; n: slot n - 1), then the slots, one piece long each, taken in the
 * order pieces first need one. A piece's bytes sit in its slot at their offset in the piece,
 * so a slot holds whichever parts of that piece belong to files kept here. A slot's bytes are
 * written before its table entry: a crash between the two loses a slot, never points one at
 * bytes that are not there.
 */
export class PartsFile {
	static readonly magic = Buffer.from('TRXPARTS');
	static readonly version = 1;
	readonly #table: Uint32Array;
	readonly #dataStart: number;
	#slotsUsed = 0;
	/** No slot was in use when it opened: the file (if any) is written anew at the first write. */
	readonly #startOver: boolean;
	#handle: Promise<FileHandle> | undefined;

	private constructor(
		readonly root: string,
		readonly file: string,
		readonly pieceCount: number,
		readonly pieceLength: number,
		table: Uint32Array,
	) {
		this.#table = table;
		// The slots start on a 4 KiB boundary, so each slot's writes line up with the page cache's.
		this.#dataStart = Math.ceil((headerLength + 4 * pieceCount) / 4096) * 4096;
		for (const entry of table) {
			this.#slotsUsed = Math.max(this.#slotsUsed, entry);
		}

		this.#startOver = this.#slotsUsed === 0;
	}

	/**
	 * The parts file `file` (below `root`) for a torrent of `pieceCount` pieces of `pieceLength`:
	 * its slot table read when it exists and is ours for this shape, empty otherwise (a file that
	 * is not ours, or is torn, is started over at the first write).
	 */
	static async open(root: string, file: string, pieceCount: number, pieceLength: number): Promise<PartsFile> {
		const bytes = await readPrefix(root, file, headerLength + 4 * pieceCount).catch(() => undefined);
		const table = (bytes && readTable(bytes, pieceCount, pieceLength)) ?? new Uint32Array(pieceCount);
		return new PartsFile(root, file, pieceCount, pieceLength, table);
	}

	/** Whether some piece has bytes here. */
	get empty(): boolean {
		return this.#slotsUsed === 0;
	}

	/** Whether piece `index` has bytes here. */
	has(index: number): boolean {
		return (this.#table[index] ?? 0) !== 0;
	}

	/** Reads `length` bytes of piece `index` from `pieceOffset` into `into` at `intoOffset`. */
	async read(
		index: number,
		pieceOffset: number,
		into: Buffer,
		intoOffset: number,
		length: number,
	): Promise<void> {
		const slot = this.#table[index] ?? 0;
		if (slot === 0) {
			throw new Error(`piece ${index} is not in the parts file`);
		}

		const handle = await this.#open();
		let read = 0;
		while (read < length) {
			const position = this.#slotStart(slot) + pieceOffset + read;
			const {bytesRead} = await handle.read(into, intoOffset + read, length - read, position);
			if (bytesRead === 0) {
				throw new Error('the parts file is shorter than its table says');
			}

			read += bytesRead;
		}
	}

	/** Writes `data` as the bytes of piece `index` from `pieceOffset`, taking the piece a slot if it has none. */
	async write(index: number, pieceOffset: number, data: Uint8Array): Promise<void> {
		const known = this.#table[index] ?? 0;
		const slot = known === 0 ? ++this.#slotsUsed : known;
		this.#table[index] = slot;
		const handle = await this.#open();
		await handle.write(data, 0, data.length, this.#slotStart(slot) + pieceOffset);
		if (known === 0) {
			const entry = Buffer.alloc(4);
			entry.writeUInt32BE(slot);
			await handle.write(entry, 0, 4, headerLength + 4 * index);
		}
	}

	/** Flushes what was written to the device: before the file its bytes were copied into is trusted alone. */
	async sync(): Promise<void> {
		if (this.#handle) {
			await (await this.#handle).sync();
		}
	}

	async close(): Promise<void> {
		const handle = this.#handle;
		this.#handle = undefined;
		await (await handle)?.close();
	}

	/** Closes and deletes the file: no file is kept here any longer. */
	async remove(): Promise<void> {
		await this.close();
		this.#table.fill(0);
		this.#slotsUsed = 0;
		await rm(this.file, {force: true});
	}

	#slotStart(slot: number): number {
		return this.#dataStart + (slot - 1) * this.pieceLength;
	}

	/** Opens (creating it with its header when there is none yet) on first use; one handle for every read and write. */
	#open(): Promise<FileHandle> {
		this.#handle ??= (async () => {
			const handle = await openInside(this.root, this.file, constants.O_RDWR | constants.O_CREAT);
			if (this.#startOver) {
				await handle.truncate(0);
				await handle.write(header(this.pieceCount, this.pieceLength), 0, headerLength, 0);
				const table = tableBytes(this.#table);
				await handle.write(table, 0, table.length, headerLength);
			}

			return handle;
		})();
		this.#handle.catch(() => (this.#handle = undefined));
		return this.#handle;
	}
}

const headerLength = 24;

function header(pieceCount: number, pieceLength: number): Buffer {
	const bytes = Buffer.alloc(headerLength);
	PartsFile.magic.copy(bytes, 0);
	bytes.writeUInt32BE(PartsFile.version, 8);
	bytes.writeUInt32BE(pieceCount, 12);
	bytes.writeUInt32BE(pieceLength, 16);
	return bytes;
}

function tableBytes(table: Uint32Array): Buffer {
	const bytes = Buffer.alloc(4 * table.length);
	for (const [index, slot] of table.entries()) {
		bytes.writeUInt32BE(slot, 4 * index);
	}

	return bytes;
}

/** The first `length` bytes of `file` (fewer if it is shorter), never through a link; undefined when there is none. */
async function readPrefix(root: string, file: string, length: number): Promise<Buffer | undefined> {
	const handle = await openInside(root, file, constants.O_RDONLY).catch(() => undefined);
	if (!handle) {
		return undefined;
	}

	try {
		const bytes = Buffer.alloc(length);
		let read = 0;
		for (let got = -1; got !== 0 && read < length; read += got) {
			({bytesRead: got} = await handle.read(bytes, read, length - read, read));
		}

		return bytes.subarray(0, read);
	} finally {
		await handle.close();
	}
}

/** The slot table of a parts file made for this torrent, or undefined: not ours, another shape, or torn. */
function readTable(bytes: Buffer, pieceCount: number, pieceLength: number): Uint32Array | undefined {
	const ours =
		bytes.length >= headerLength + 4 * pieceCount &&
		bytes.subarray(0, 8).equals(PartsFile.magic) &&
		bytes.readUInt32BE(8) === PartsFile.version &&
		bytes.readUInt32BE(12) === pieceCount &&
		bytes.readUInt32BE(16) === pieceLength;
	if (!ours) {
		return undefined;
	}

	const table = new Uint32Array(pieceCount);
	for (let index = 0; index < pieceCount; index++) {
		const slot = bytes.readUInt32BE(headerLength + 4 * index);
		// No torrent needs more slots than pieces: an entry past that is not ours to follow.
		table[index] = slot <= pieceCount ? slot : 0;
	}

	return table;
}
