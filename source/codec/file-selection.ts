import {UsageError} from '../errors.js';
import type {FileEntry} from './metainfo.js';

/** What the command line asked for: `--select` and `--exclude` lists, each flag as given. */
export type SelectionRequest = {select: readonly string[]; exclude: readonly string[]};

/** One entry of a `--select`/`--exclude` list: a file number, a range of them, or a glob. */
type SelectionItem =
	| {kind: 'numbers'; from: number; to: number; text: string}
	| {kind: 'glob'; pattern: RegExp; text: string};

/** Bounds what a stranger's torrent or a typo can cost: a glob is compiled once and matched per file. */
const maxPatternLength = 1000;

/**
 * The files as `torrent-rx info` numbers them, from 1: the torrent's files but its pad files
 * (BEP 47), with their index in the torrent and their path from the torrent's name down.
 */
export function numberedFiles(
	files: readonly FileEntry[],
): Array<{number: number; fileIndex: number; path: string}> {
	const numbered: Array<{number: number; fileIndex: number; path: string}> = [];
	for (const [fileIndex, file] of files.entries()) {
		if (!file.pad) {
			numbered.push({number: numbered.length + 1, fileIndex, path: file.path.join('/')});
		}
	}

	return numbered;
}

function escapeRegExp(text: string): string {
	return text.replaceAll(/[.+^${}()|\\]/g, String.raw`\$&`);
}

/**
 * A glob as shells write them: `*` any run of characters but `/`, `**` any run at all, `?` one
 * character, `[abc]`/`[!abc]` one of a set. A pattern without `/` is matched against the file's
 * name alone (`*.mkv` finds it in any folder), one with `/` against its path (see `matches`).
 */
export function globPattern(glob: string): RegExp {
	let source = '';
	for (let at = 0; at < glob.length; at++) {
		const char = glob[at] ?? '';
		if (char === '*') {
			const double = glob[at + 1] === '*';
			source += double ? '.*' : '[^/]*';
			at += double ? 1 : 0;
		} else if (char === '?') {
			source += '[^/]';
		} else if (char === '[' && glob.indexOf(']', at + 2) > at) {
			const end = glob.indexOf(']', at + 2);
			const body = glob.slice(at + 1, end);
			const negated = body.startsWith('!') || body.startsWith('^');
			source += `[${negated ? '^' : ''}${(negated ? body.slice(1) : body).replaceAll(/[\\\]^]/g, String.raw`\$&`)}]`;
			at = end;
		} else {
			source += escapeRegExp(char);
		}
	}

	return new RegExp(`^${source}$`, 'su');
}

function parseItem(text: string, flag: string): SelectionItem {
	const range = /^(\d+)(?:-(\d+))?$/.exec(text);
	if (range) {
		const from = Number(range[1]);
		const to = range[2] === undefined ? from : Number(range[2]);
		if (from < 1 || to < from) {
			throw new UsageError(`${flag} ${text}: files are numbered from 1, and a range goes upwards`);
		}

		return {kind: 'numbers', from, to, text};
	}

	if (text.length > maxPatternLength) {
		throw new UsageError(`${flag}: a pattern of ${text.length} characters is too long`);
	}

	return {kind: 'glob', pattern: globPattern(text), text};
}

/** The items of every `flag` given, split at commas: `1,3-5` is three of them. */
function parseList(lists: readonly string[], flag: string): SelectionItem[] {
	return lists.flatMap((list) =>
		list
			.split(',')
			.map((item) => item.trim())
			.filter((item) => item !== '')
			.map((item) => parseItem(item, flag)),
	);
}

function matches(item: SelectionItem, file: {number: number; path: string}): boolean {
	if (item.kind === 'numbers') {
		return file.number >= item.from && file.number <= item.to;
	}

	const components = file.path.split('/');
	if (!item.text.includes('/')) {
		return item.pattern.test(components.at(-1) ?? file.path);
	}

	// The path as info prints it, or below the torrent's own folder (`extras/*` as well as `movie/extras/*`).
	return (
		item.pattern.test(file.path) ||
		(components.length > 1 && item.pattern.test(components.slice(1).join('/')))
	);
}

/** A number past the last file is a mistake worth a line (as aria2's `--select-file` is not). */
function checkInRange(items: readonly SelectionItem[], count: number, flag: string): void {
	for (const item of items) {
		if (item.kind === 'numbers' && item.to > count) {
			throw new UsageError(
				`${flag} ${item.text}: the torrent has ${count === 1 ? 'one file' : `${count} files`}`,
			);
		}
	}
}

/**
 * Which of the torrent's files to download, by index in the torrent: those `--select` names (all
 * when it is not given) but those `--exclude` names; pad files never. A number out of range, a
 * `--select` item that matches no file, or a selection left empty is a usage error.
 */
export function resolveSelection(files: readonly FileEntry[], request: SelectionRequest): boolean[] {
	const numbered = numberedFiles(files);
	const selects = parseList(request.select, '--select');
	const excludes = parseList(request.exclude, '--exclude');
	checkInRange(selects, numbered.length, '--select');
	checkInRange(excludes, numbered.length, '--exclude');
	for (const item of selects) {
		if (item.kind === 'glob' && !numbered.some((file) => matches(item, file))) {
			throw new UsageError(
				`--select ${item.text} matches none of the torrent's files (torrent-rx info lists them)`,
			);
		}
	}

	const selected = files.map(() => false);
	for (const file of numbered) {
		const chosen = selects.length === 0 || selects.some((item) => matches(item, file));
		selected[file.fileIndex] = chosen && !excludes.some((item) => matches(item, file));
	}

	if (numbered.length > 0 && !selected.some(Boolean)) {
		throw new UsageError('the selection leaves no file to download');
	}

	return selected;
}

/** Whether `selected` takes every file but the pad files: then nothing needs choosing at all. */
export function selectsEverything(files: readonly FileEntry[], selected: readonly boolean[]): boolean {
	return files.every((file, index) => file.pad === true || selected[index] === true);
}
