import type {RunEvent} from './events.js';

/** A file of the torrent as the `started` event lists it (pad files left out), numbered from 1 as `info` prints. */
export type StartedFile = Extract<RunEvent, {type: 'started'}>['files'] extends (infer F)[] | undefined
	? F
	: never;

/** A file's progress, as the views list it. */
export type FileProgress = StartedFile & {
	/** Its bytes in verified pieces. */
	done: number;
};

/** What is selected, when that is not everything: `3 of 12 files, 1.4 GB of 9.8 GB`. */
export type SelectionSummary = {
	files: number;
	ofFiles: number;
	bytes: number;
	ofBytes: number;
	/** The selected files' bytes in verified pieces. */
	done: number;
};

/** The files' progress at the start of a run: nothing done yet. */
export function filesAtStart(files: readonly StartedFile[] | undefined): FileProgress[] {
	return (files ?? []).map((file) => ({...file, done: 0}));
}

/** The index of the first file that ends after `position` (binary search over their offsets). */
function firstFileEndingAfter(files: readonly FileProgress[], position: number): number {
	let low = 0;
	let high = files.length;
	while (low < high) {
		const middle = (low + high) >> 1;
		const file = files[middle];
		if (file && file.offset + file.length <= position) {
			low = middle + 1;
		} else {
			high = middle;
		}
	}

	return low;
}

/**
 * The files' progress in one batch of events: copied once when the batch first changes it (a
 * view takes the state ten times a second; a piece costs a look at the files it touches only).
 */
export class FileProgressDraft {
	#files: readonly FileProgress[];
	#copy: FileProgress[] | undefined;

	constructor(files: readonly FileProgress[]) {
		this.#files = files;
	}

	/** A new run's files, replacing any before. */
	start(files: readonly StartedFile[] | undefined): void {
		this.#copy = filesAtStart(files);
		this.#files = this.#copy;
	}

	/** Piece `index` (of pieces `pieceLength` long) is verified: each file it touches has its part of it done. */
	addPiece(index: number, pieceLength: number): void {
		const start = index * pieceLength;
		const end = start + pieceLength;
		for (let at = firstFileEndingAfter(this.#files, start); at < this.#files.length; at++) {
			const file = this.#files[at];
			if (!file || file.offset >= end) {
				break;
			}

			const overlap = Math.min(end, file.offset + file.length) - Math.max(start, file.offset);
			if (overlap > 0) {
				const copy = this.#writable();
				const changed = {...file, done: Math.min(file.length, file.done + overlap)};
				copy[at] = changed;
			}
		}
	}

	/** Every file done: the run is complete (a log's `completed`, whatever came before it). */
	completeSelected(): void {
		if (this.#files.some((file) => file.selected && file.done < file.length)) {
			this.#copy = this.#files.map((file) => (file.selected ? {...file, done: file.length} : file));
			this.#files = this.#copy;
		}
	}

	finish(): readonly FileProgress[] {
		return this.#files;
	}

	#writable(): FileProgress[] {
		this.#copy ??= [...this.#files];
		this.#files = this.#copy;
		return this.#copy;
	}
}

/** The selection in `files`, or undefined when every file is selected (or the log does not say). */
export function selectionOf(files: readonly FileProgress[]): SelectionSummary | undefined {
	if (files.every((file) => file.selected)) {
		return undefined;
	}

	const summary: SelectionSummary = {files: 0, ofFiles: files.length, bytes: 0, ofBytes: 0, done: 0};
	for (const file of files) {
		summary.ofBytes += file.length;
		if (file.selected) {
			summary.files++;
			summary.bytes += file.length;
			summary.done += file.done;
		}
	}

	return summary;
}
