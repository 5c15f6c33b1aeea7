import {lstat} from 'node:fs/promises';
import path from 'node:path';
import {catchError, defer, type Observable, of} from 'rxjs';
import {Bitfield} from '../codec/bitfield.js';
import type {StorageLayout} from './layout.js';
import {readOwnFile, replaceInside, stateFolderName} from './own-files.js';
import {payloadPath} from './paths.js';

/** Remembers which pieces are verified on disk, so a restart need not hash everything again. */
export type ResumeStore = {
	/**
	 * The verified pieces, if the resume file is intact and every file is as it left them but
	 * those `createdNow` (just made by the store: what it says of their pieces is checked later).
	 */
	load(createdNow?: readonly boolean[]): Observable<Bitfield | undefined>;
	/** Records `have` with the files' current sizes and modification times, atomically. */
	save(have: Bitfield): Observable<void>;
};

/** A file's size and modification time; null for a file that was not on disk (pad files, files kept in the parts file). */
type FileState = {size: number; mtimeMs: number} | null;

type ResumeData = {
	version: 1;
	infoHash: string;
	pieceCount: number;
	/** The bitfield, base64. */
	have: string;
	files: FileState[];
	/** The parts file's state, when there was one. */
	parts?: FileState;
	/** The files not selected, by index in the torrent; all were selected when absent. */
	unselected?: number[];
};

/** A file's state; a link (BEP 47 `l`: a link the torrent made, never a payload file) is none, as a file not there. */
async function stateOf(filePath: string): Promise<FileState> {
	const stats = await lstat(filePath).catch(() => undefined);
	return stats?.isFile() ? {size: stats.size, mtimeMs: stats.mtimeMs} : null;
}

function sameState(recorded: FileState | undefined, now: FileState): boolean {
	return recorded?.size === now?.size && recorded?.mtimeMs === now?.mtimeMs;
}

function parseResume(text: string, infoHash: string, pieceCount: number): ResumeData | undefined {
	try {
		const data = JSON.parse(text) as Partial<ResumeData>;
		const valid =
			data.version === 1 &&
			data.infoHash === infoHash &&
			data.pieceCount === pieceCount &&
			typeof data.have === 'string' &&
			Array.isArray(data.files);
		return valid ? (data as ResumeData) : undefined;
	} catch {
		return undefined;
	}
}

/** What the resume file records besides the pieces: which files are selected, and where the parts file is. */
export type ResumeOptions = {selected?: readonly boolean[]; partsFile?: string};

function resumePath(outputDir: string, infoHash: Buffer): string {
	return path.join(outputDir, stateFolderName, `${infoHash.toString('hex')}.resume`);
}

async function readResume(file: string, hex: string, pieceCount: number): Promise<ResumeData | undefined> {
	const text = (await readOwnFile(file))?.toString('utf8');
	return text === undefined ? undefined : parseResume(text, hex, pieceCount);
}

/**
 * Whether the files are as the resume file left them: each one on disk now that this run did not
 * just make has the size and time recorded (a file gone since is no reason to distrust the others:
 * the pieces it held are found unreadable or fail their check), and so has the parts file.
 */
async function unchangedSince(
	data: ResumeData,
	paths: readonly string[],
	partsFile: string | undefined,
	createdNow: readonly boolean[],
): Promise<boolean> {
	const now = await Promise.all(paths.map(stateOf));
	const files = now.every(
		(state, index) => state === null || createdNow[index] || sameState(data.files[index], state),
	);
	const parts = partsFile ? await stateOf(partsFile) : null;
	return files && (parts === null || sameState(data.parts ?? null, parts));
}

/**
 * The resume file `<outputDir>/.torrent-rx/<infohash>.resume` (JSON). It is trusted only when
 * every file still has the size and modification time it recorded: any write after the last
 * save (a crash, another program) changes a time, and the caller falls back to a full check.
 * Saves go to a temporary file and are renamed into place, so a crash of the process never
 * leaves half a resume file; neither is ever read or written through a link (`own-files.ts`).
 * It also remembers the selection of files, for a next run that names none.
 */
export function resumeFile(
	outputDir: string,
	infoHash: Buffer,
	layout: StorageLayout,
	options: ResumeOptions = {},
): ResumeStore {
	const hex = infoHash.toString('hex');
	const file = resumePath(outputDir, infoHash);
	const paths = layout.files.map((entry) => payloadPath(outputDir, entry.path));
	const unselected = options.selected
		? layout.files.flatMap((entry, index) => (entry.pad || options.selected?.[index] ? [] : [index]))
		: [];
	return {
		load: (createdNow = []) =>
			defer(async () => {
				const data = await readResume(file, hex, layout.pieceCount);
				const bytes = data ? Buffer.from(data.have, 'base64') : undefined;
				if (!data || bytes?.length !== Math.ceil(layout.pieceCount / 8)) {
					return undefined;
				}

				const unchanged = await unchangedSince(data, paths, options.partsFile, createdNow);
				return unchanged ? Bitfield.fromWire(bytes, layout.pieceCount) : undefined;
			}).pipe(
				// A resume file we cannot read or trust is the same as none: check the data instead.
				catchError(() => of(undefined)),
			),
		save: (have) =>
			defer(async () => {
				const data: ResumeData = {
					version: 1,
					infoHash: hex,
					pieceCount: layout.pieceCount,
					have: have.bytes.toString('base64'),
					files: await Promise.all(paths.map(stateOf)),
					...(options.partsFile ? {parts: await stateOf(options.partsFile)} : {}),
					...(unselected.length > 0 ? {unselected} : {}),
				};
				// No fsync: on ext4 it commits every dirty page of the payload too (seconds per save
				// while downloading fast). A resume file torn by a power cut fails to parse or to
				// match the files' times, and the data is checked instead, so it is never trusted wrongly.
				// Each save has a temporary file of its own, so two saves at once never share one.
				await replaceInside(outputDir, file, JSON.stringify(data));
			}),
	};
}

/**
 * The selection the last run of this torrent in `outputDir` saved in its resume file, per file
 * of the torrent; undefined when there is none (every file, then). Read before the files are
 * opened, so no file state is compared: the selection is a wish, not a claim about the data.
 */
export async function rememberedSelection(
	outputDir: string,
	infoHash: Buffer,
	layout: StorageLayout,
): Promise<boolean[] | undefined> {
	const data = await readResume(
		resumePath(outputDir, infoHash),
		infoHash.toString('hex'),
		layout.pieceCount,
	).catch(() => undefined);
	const unselected = Array.isArray(data?.unselected) ? data.unselected : [];
	const valid = unselected.every(
		(index) => Number.isInteger(index) && index >= 0 && index < layout.files.length,
	);
	if (!valid || unselected.length === 0) {
		return undefined;
	}

	const selected = layout.files.map((entry) => !entry.pad);
	for (const index of unselected) {
		selected[index] = false;
	}

	return selected.some(Boolean) ? selected : undefined;
}
