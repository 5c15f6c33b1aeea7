import {printable} from '../codec/printable.js';
import type {FileProgress} from '../events/run-state.js';
import {formatBytes, formatProgress, maxNameLength} from './format.js';

/** The file list's columns: the file's number as `info` prints it, its path, size and share done. */
export const fileColumns = ['#', 'File', 'Size', 'Done'] as const;

/** One row of the file list, already formatted; a file the run does not download says `skip` under Done. */
export type FileRow = {
	number: number;
	selected: boolean;
	cells: readonly string[];
};

/** The file list a snapshot carries: its rows, and the files it leaves out (how many, and in words). */
export type FileList = {
	rows: readonly FileRow[];
	omitted: number;
	/** `and 49,800 more files`, or empty when every file has its row. */
	more: string;
};

/**
 * Rows sent at most: a torrent may hold 50,000 files, and the web view sends the snapshot to
 * every tab ten times a second.
 */
export const maxFileRows = 200;

// The state's file list is a new array only when a batch of events changed a file, and a file
// a new object only when its own progress changed: unchanged, neither is formatted again.
const lists = new WeakMap<readonly FileProgress[], FileList>();
const rows = new WeakMap<FileProgress, FileRow>();

/**
 * The file list of `files`, formatted once per array: files in progress first, then those still
 * to come, then those done, then those not selected, each group in the torrent's order, cut to
 * `maxFileRows` rows. What the user waits for stays on top, also on a short terminal.
 */
export function fileList(files: readonly FileProgress[]): FileList {
	let list = lists.get(files);
	if (!list) {
		list = listOf(files);
		lists.set(files, list);
	}

	return list;
}

/** 0 in progress, 1 still to come, 2 done, 3 not selected. */
function groupOf(file: FileProgress): number {
	if (!file.selected) {
		return 3;
	}

	if (file.done >= file.length) {
		return 2;
	}

	return file.done > 0 ? 0 : 1;
}

function listOf(files: readonly FileProgress[]): FileList {
	const groups: FileProgress[][] = [[], [], [], []];
	for (const file of files) {
		const group = groups[groupOf(file)];
		// No group needs more rows than the list may hold: fifty thousand files cost one pass, no sort.
		if (group && group.length < maxFileRows) {
			group.push(file);
		}
	}

	const shown = groups.flat().slice(0, maxFileRows).map(rowOf);
	const omitted = files.length - shown.length;
	return {
		rows: shown,
		omitted,
		more: omitted > 0 ? `and ${omitted.toLocaleString('en-US')} more file${omitted === 1 ? '' : 's'}` : '',
	};
}

function rowOf(file: FileProgress): FileRow {
	let row = rows.get(file);
	if (!row) {
		row = {
			number: file.number,
			selected: file.selected,
			cells: [
				String(file.number),
				shownPath(file.path),
				formatBytes(file.length),
				file.selected ? formatProgress(file.length > 0 ? file.done / file.length : 1) : 'skip',
			],
		};
		rows.set(file, row);
	}

	return row;
}

/**
 * A path from the torrent, a stranger's text, made printable and cut as the torrent's name is;
 * a longer one keeps its end, where the file's own name is. Only the last characters are ever
 * looked at: a character is one or two UTF-16 units.
 */
function shownPath(path: string): string {
	const limit = 2 * maxNameLength;
	const tail = Array.from(path.length > limit ? path.slice(-limit) : path);
	if (path.length <= limit && tail.length <= maxNameLength) {
		return printable(path, maxNameLength);
	}

	// The slice may begin in the middle of a pair of units: that first half is never kept.
	return `…${printable(tail.slice(1 - maxNameLength).join(''), maxNameLength)}`;
}
