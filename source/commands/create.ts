import {writeFile} from 'node:fs/promises';
import path from 'node:path';
import {filter, lastValueFrom, tap} from 'rxjs';
import {automaticPieceLength, buildMetainfo} from '../codec/build-metainfo.js';
import {isWebSeedUrl} from '../codec/web-seed-url.js';
import {UsageError} from '../errors.js';
import {hashPayload} from '../hashing/hash-payload.js';
import {createHashWorkerPool} from '../hashing/worker-pool.js';
import {withResource} from '../rx/with-resource.js';
import {openPieceReader} from '../storage/disk.js';
import {StorageLayout} from '../storage/layout.js';
import {scanPayload} from '../storage/scan.js';

export type CreateOptions = {
	/** The file or folder to make a torrent of. */
	target: string;
	/** Where to write the .torrent; default `<name>.torrent` in the current folder. */
	output?: string;
	trackers: string[];
	/** BEP 19 web seeds (`url-list`), http or https URLs. */
	webSeeds?: string[];
	pieceLength?: number;
	private: boolean;
	comment?: string;
	/** Progress lines go here (stderr for the CLI); silent when absent. */
	progress?: (line: string) => void;
};

const minPieceLength = 16 * 1024;

/** `torrent-rx create`: hashes a file or folder on worker threads and writes its .torrent. Returns its path. */
export async function createTorrentFile(options: CreateOptions): Promise<string> {
	const {pieceLength: requested} = options;
	if (requested !== undefined && (requested < minPieceLength || (requested & (requested - 1)) !== 0)) {
		throw new UsageError('--piece-length must be a power of two of at least 16384');
	}

	const webSeeds = [...new Set(options.webSeeds ?? [])];
	const notWebSeed = webSeeds.find((url) => !isWebSeedUrl(url));
	if (notWebSeed !== undefined) {
		throw new UsageError(`--web-seed takes an http or https URL, not ${JSON.stringify(notWebSeed)}`);
	}

	const payload = await scanPayload(options.target);
	const totalLength = payload.files.reduce((sum, file) => sum + file.length, 0);
	const pieceLength = requested ?? automaticPieceLength(totalLength);
	const layout = new StorageLayout(payload.files, pieceLength);
	const hashers = createHashWorkerPool();
	try {
		const result = await lastValueFrom(
			withResource(openPieceReader(layout, payload.parent), (reader) =>
				hashPayload(reader, layout.pieceCount, hashers.hashPiece, {
					concurrency: 8,
					progressMs: 500,
					pieceLength,
				}),
			).pipe(
				tap((progress) => {
					if (progress.type === 'hashing') {
						options.progress?.(`Hashing ${payload.name}: ${progress.hashed} of ${progress.total} pieces`);
					}
				}),
				filter((progress) => progress.type === 'hashed'),
			),
		);
		const torrent = buildMetainfo({
			name: payload.name,
			files: payload.files,
			multiFile: payload.multiFile,
			pieceLength,
			pieceHashes: result.pieceHashes,
			trackers: options.trackers,
			webSeeds,
			private: options.private,
			...(options.comment ? {comment: options.comment} : {}),
			createdBy: 'torrent-rx 0.1.0',
			creationDate: Math.floor(Date.now() / 1000),
		});
		const output = path.resolve(options.output ?? `${payload.name}.torrent`);
		await writeFile(output, torrent);
		return output;
	} finally {
		await hashers.close();
	}
}
