import type {FileEntry} from '../codec/metainfo.js';

/** A run of bytes of one piece that lives in one file. */
export type FileSpan = {
	fileIndex: number;
	/** Where the run starts inside the file. */
	fileOffset: number;
	/** Where the run starts inside the piece. */
	pieceOffset: number;
	length: number;
};

/**
 * Maps pieces onto the torrent's files: the payload is the files concatenated in order, cut
 * into pieces of `pieceLength` (the last one shorter). Pure arithmetic, no I/O.
 */
export class StorageLayout {
	readonly pieceCount: number;
	readonly totalLength: number;
	/** Whether the torrent has pad files at all (most have none: then nothing is looked up per piece). */
	readonly hasPadFiles: boolean;
	/** The user's bytes: every file but the pad files (BEP 47). What the views, metrics and trackers count. */
	readonly userLength: number;

	constructor(
		readonly files: readonly FileEntry[],
		readonly pieceLength: number,
	) {
		this.totalLength = files.reduce((sum, file) => sum + file.length, 0);
		this.pieceCount = Math.ceil(this.totalLength / pieceLength);
		this.hasPadFiles = files.some((file) => file.pad);
		this.userLength = files.reduce((sum, file) => sum + (file.pad ? 0 : file.length), 0);
	}

	/** The bytes of piece `index` but its pad bytes. */
	userBytes(index: number): number {
		if (!this.hasPadFiles) {
			return this.pieceSize(index);
		}

		return this.padRanges(index).reduce((left, {begin, end}) => left - (end - begin), this.pieceSize(index));
	}

	/** The length of piece `index`: `pieceLength`, except for a shorter last piece. */
	pieceSize(index: number): number {
		if (index < 0 || index >= this.pieceCount) {
			throw new RangeError(`piece ${index} outside 0..${this.pieceCount - 1}`);
		}

		return Math.min(this.pieceLength, this.totalLength - index * this.pieceLength);
	}

	/** The file runs that make up piece `index`, in order; zero-length files never appear. */
	spans(index: number): FileSpan[] {
		const start = index * this.pieceLength;
		const end = start + this.pieceSize(index);
		const spans: FileSpan[] = [];
		for (let fileIndex = this.firstFileAt(start); fileIndex < this.files.length; fileIndex++) {
			const file = this.files[fileIndex];
			if (!file || file.offset >= end) {
				break;
			}

			const from = Math.max(start, file.offset);
			const to = Math.min(end, file.offset + file.length);
			if (to > from) {
				spans.push({fileIndex, fileOffset: from - file.offset, pieceOffset: from - start, length: to - from});
			}
		}

		return spans;
	}

	/**
	 * The file runs that hold bytes `begin .. begin + length` of piece `index`, clipped to that
	 * range; `pieceOffset` counts from `begin`, so each run lands at its place in a buffer of
	 * `length` bytes.
	 */
	rangeSpans(index: number, begin: number, length: number): FileSpan[] {
		const end = begin + length;
		const clipped: FileSpan[] = [];
		for (const span of this.spans(index)) {
			const from = Math.max(begin, span.pieceOffset);
			const to = Math.min(end, span.pieceOffset + span.length);
			if (to > from) {
				clipped.push({
					fileIndex: span.fileIndex,
					fileOffset: span.fileOffset + from - span.pieceOffset,
					pieceOffset: from - begin,
					length: to - from,
				});
			}
		}

		return clipped;
	}

	/**
	 * The bytes of piece `index` that belong to pad files (BEP 47): known zeros, never asked of a
	 * peer nor kept on disk. Piece offsets, in order, `end` exclusive.
	 */
	padRanges(index: number): Array<{begin: number; end: number}> {
		return this.spans(index)
			.filter((span) => this.files[span.fileIndex]?.pad)
			.map((span) => ({begin: span.pieceOffset, end: span.pieceOffset + span.length}));
	}

	/** The first file whose bytes extend past `position` (binary search over the offsets). */
	private firstFileAt(position: number): number {
		let low = 0;
		let high = this.files.length - 1;
		while (low < high) {
			const middle = (low + high) >> 1;
			const file = this.files[middle];
			if (file && file.offset + file.length <= position) {
				low = middle + 1;
			} else {
				high = middle;
			}
		}

		return low;
	}
}
