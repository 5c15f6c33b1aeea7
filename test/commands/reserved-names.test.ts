/**
 * Issue 14 (2.12): our own files live in the output folder beside the payload: the state folder
 * `.torrent-rx` and (by default) `history.log`. A torrent whose name is one of them would put
 * payload into our state or mix log lines into its data: it is refused before anything is
 * written, with a line that says what to do.
 */
import {mkdtemp, readdir, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import {firstValueFrom, timeout} from 'rxjs';
import {buildMetainfo} from '../../source/codec/build-metainfo.js';
import {parseMetainfo} from '../../source/codec/metainfo.js';
import {PieceHashes} from '../../source/codec/piece-hashes.js';
import {reservedNameProblem, runTorrent} from '../../source/commands/run-torrent.js';
import {MetainfoError, UsageError} from '../../source/errors.js';
import {hashOnMainThread} from '../../source/hashing/sha1.js';

async function folder(t: ExecutionContext): Promise<string> {
	const made = await mkdtemp(path.join(tmpdir(), 'torrent-rx-reserved-'));
	t.teardown(() => rm(made, {recursive: true, force: true}));
	return made;
}

function torrentNamed(name: string, ...inside: string[][]) {
	const files = inside.length
		? inside.map((rest) => ({path: [name, ...rest], length: 5}))
		: [{path: [name], length: 5}];
	return parseMetainfo(
		buildMetainfo({
			name,
			files,
			multiFile: inside.length > 0,
			pieceLength: 16_384,
			pieceHashes: PieceHashes.of([Buffer.alloc(20, 1)]),
			trackers: [],
			private: false,
			createdBy: 'test',
			creationDate: 0,
		}),
	);
}

function configFor(outputDir: string, historyFile?: string) {
	return {
		outputDir,
		port: 0,
		listenHost: '127.0.0.1',
		maxPeers: 1,
		hashPiece: hashOnMainThread,
		lsd: false,
		...(historyFile ? {historyFile} : {}),
	};
}

test('a torrent named .torrent-rx is refused before anything is written', async (t) => {
	const outputDir = await folder(t);
	const error = await t.throwsAsync(
		firstValueFrom(runTorrent(torrentNamed('.torrent-rx'), configFor(outputDir)).pipe(timeout(5000))),
	);
	t.true(error instanceof MetainfoError, String(error));
	t.regex(error?.message ?? '', /\.torrent-rx/);
	t.deepEqual(await readdir(outputDir), []);
});

test('a torrent named history.log is refused when the history log is there, naming the flags', async (t) => {
	const outputDir = await folder(t);
	const error = await t.throwsAsync(
		firstValueFrom(
			runTorrent(torrentNamed('history.log'), configFor(outputDir, path.join(outputDir, 'history.log'))).pipe(
				timeout(5000),
			),
		),
	);
	t.true(error instanceof UsageError, String(error));
	t.regex(error?.message ?? '', /--history FILE or --no-history/);
	t.deepEqual(await readdir(outputDir), []);
});

test('what is refused and what is not', (t) => {
	const out = '/downloads';
	const log = path.join(out, 'history.log');
	t.truthy(reservedNameProblem(torrentNamed('.torrent-rx'), out));
	t.truthy(reservedNameProblem(torrentNamed('.Torrent-RX', ['a']), out), 'case-insensitive file systems');
	t.truthy(reservedNameProblem(torrentNamed('history.log', ['a']), out, log), 'a folder the log would be in');
	t.truthy(reservedNameProblem(torrentNamed('logs'), out, path.join(out, 'logs', 'run.log')));
	t.is(reservedNameProblem(torrentNamed('history.log'), out), undefined, 'no history log');
	t.is(reservedNameProblem(torrentNamed('history.log'), out, '/elsewhere/history.log'), undefined);
	t.is(
		reservedNameProblem(torrentNamed('album', ['.torrent-rx'], ['history.log']), out, log),
		undefined,
		'below the top level',
	);
});
