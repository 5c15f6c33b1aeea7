import {stat} from 'node:fs/promises';
import path from 'node:path';
import {catchError, defer, type Observable, of} from 'rxjs';
import {Bitfield} from '../codec/bitfield.js';
import type {FileEntry} from '../codec/metainfo.js';
import type {StorageLayout} from './layout.js';
import {readOwnFile, replaceInside, stateFolderName} from './own-files.js';
import {payloadPath} from './paths.js';

/** Remembers which pieces are verified on disk, so a restart need not hash everything again. */
export type ResumeStore = {
	/** The verified pieces, if the resume file is intact and every file is as it left them. */
	load(): Observable<Bitfield | undefined>;
	/** Records `have` with the files' current sizes and modification times, atomically. */
	save(have: Bitfield): Observable<void>;
};

type ResumeData = {
	version: 1;
	infoHash: string;
	pieceCount: number;
	/** The bitfield, base64. */
	have: string;
	files: Array<{size: number; mtimeMs: number}>;
};

/**
 * Each file's size and modification time. Pad files and links (BEP 47) hold no payload on disk:
 * a pad file is never made and a link may be skipped, so there may be nothing to stat, and
 * neither can hold a verified byte to distrust. They are recorded as zeros.
 */
async function fileStates(files: readonly FileEntry[], paths: readonly string[]) {
	return Promise.all(
		paths.map(async (filePath, index) => {
			const file = files[index];
			if (file?.pad || file?.symlinkTarget) {
				return {size: 0, mtimeMs: 0};
			}

			const stats = await stat(filePath);
			return {size: stats.size, mtimeMs: stats.mtimeMs};
		}),
	);
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

/**
 * The resume file `<outputDir>/.torrent-rx/<infohash>.resume` (JSON). It is trusted only when
 * every file still has the size and modification time it recorded: any write after the last
 * save (a crash, another program) changes a time, and the caller falls back to a full check.
 * Saves go to a temporary file and are renamed into place, so a crash of the process never
 * leaves half a resume file; neither is ever read or written through a link (`own-files.ts`).
 */
export function resumeFile(outputDir: string, infoHash: Buffer, layout: StorageLayout): ResumeStore {
	const hex = infoHash.toString('hex');
	const file = path.join(outputDir, stateFolderName, `${hex}.resume`);
	const paths = layout.files.map((entry) => payloadPath(outputDir, entry.path));
	return {
		load: () =>
			defer(async () => {
				const text = (await readOwnFile(file))?.toString('utf8');
				const data = text === undefined ? undefined : parseResume(text, hex, layout.pieceCount);
				if (!data) {
					return undefined;
				}

				const bytes = Buffer.from(data.have, 'base64');
				if (bytes.length !== Math.ceil(layout.pieceCount / 8)) {
					return undefined;
				}

				const now = await fileStates(layout.files, paths).catch(() => undefined);
				const unchanged =
					now?.length === data.files.length &&
					now.every((state, index) => {
						const recorded = data.files[index];
						return recorded?.size === state.size && recorded.mtimeMs === state.mtimeMs;
					});
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
					files: await fileStates(layout.files, paths),
				};
				// No fsync: on ext4 it commits every dirty page of the payload too (seconds per save
				// while downloading fast). A resume file torn by a power cut fails to parse or to
				// match the files' times, and the data is checked instead, so it is never trusted wrongly.
				// Each save has a temporary file of its own, so two saves at once never share one.
				await replaceInside(outputDir, file, JSON.stringify(data));
			}),
	};
}
