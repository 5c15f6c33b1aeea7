import {peerKey} from '../codec/compact-peers.js';
import {isMagnetLink, type MagnetLink, parseMagnetLink} from '../codec/magnet.js';
import type {Metainfo} from '../codec/metainfo.js';
import {printable, printableJson} from '../codec/printable.js';
import {linkTargetText} from '../codec/symlink-path.js';
import {countOf, formatBytes} from '../ui/format.js';
import {readTorrentFile} from './download.js';

/** What `torrent-rx info` says of a torrent: what `transmission-show` and `aria2c -S` print. */
export type TorrentSummary = {
	name: string;
	/** v1, in hex; for a hybrid torrent also the v2 (SHA-256) hash. */
	infoHash: string;
	infoHashV2?: string;
	/** The user's bytes: every file but the pad files. */
	totalSize: number;
	pieceLength: number;
	pieceCount: number;
	private: boolean;
	/** Tracker tiers (BEP 12), in order. */
	trackers: string[][];
	webSeeds: string[];
	/** ISO 8601, from `creation date`. */
	creationDate?: string;
	createdBy?: string;
	comment?: string;
	/**
	 * The files, pad files left out, numbered from 1 as `--select` takes them; the path from the
	 * torrent's name down. BEP 47: a link's `symlink` is its target from the torrent's name down
	 * too, and `sha1` the file's SHA-1 (hex) when the torrent gives one.
	 */
	files: Array<{index: number; size: number; path: string; symlink?: string; sha1?: string}>;
	padFiles: number;
};

/** What a magnet link itself says: until its metadata is fetched, that is all there is. */
export type MagnetSummary = {
	infoHash: string;
	name?: string;
	trackers: string[];
	peers: string[];
	/** `ws` (BEP 19): the web seeds the link names. */
	webSeeds: string[];
};

/** What `info` says of a torrent file: its fields, and the user's files (pad files only counted). */
export function summarizeTorrent(metainfo: Metainfo): TorrentSummary {
	const files = metainfo.files.filter((file) => !file.pad);
	return {
		name: metainfo.name,
		infoHash: metainfo.infoHash.toString('hex'),
		...(metainfo.infoHashV2 ? {infoHashV2: metainfo.infoHashV2.toString('hex')} : {}),
		totalSize: files.reduce((sum, file) => sum + file.length, 0),
		pieceLength: metainfo.pieceLength,
		pieceCount: metainfo.pieceHashes.count,
		private: metainfo.private,
		trackers: metainfo.announceTiers,
		webSeeds: metainfo.webSeeds ?? [],
		...(metainfo.creationDate === undefined
			? {}
			: {creationDate: new Date(metainfo.creationDate * 1000).toISOString()}),
		...(metainfo.createdBy === undefined ? {} : {createdBy: metainfo.createdBy}),
		...(metainfo.comment === undefined ? {} : {comment: metainfo.comment}),
		files: files.map((file, index) => ({
			index: index + 1,
			size: file.length,
			path: file.path.join('/'),
			...(file.symlinkTarget ? {symlink: linkTargetText(file)} : {}),
			...(file.sha1 ? {sha1: file.sha1.toString('hex')} : {}),
		})),
		padFiles: metainfo.files.length - files.length,
	};
}

/** What `info` says of a magnet link: what the link itself carries. */
export function summarizeMagnet(link: MagnetLink): MagnetSummary {
	return {
		infoHash: link.infoHash.toString('hex'),
		...(link.displayName === undefined ? {} : {name: link.displayName}),
		trackers: link.trackers,
		peers: link.peers.map(peerKey),
		webSeeds: link.webSeeds,
	};
}

/** A torrent's name, paths, trackers and comment come from a stranger: printed, they are made printable. */
const shown = (text: string) => printable(text, 4096);

/** `1,234,567`. */
const grouped = (count: number) => count.toLocaleString('en-US');

/** The text `torrent-rx info` prints for a torrent. */
export function formatTorrentSummary(summary: TorrentSummary): string {
	const lines = [
		`Name: ${shown(summary.name)}`,
		`Info hash: ${summary.infoHash}`,
		...(summary.infoHashV2 ? [`Info hash (v2): ${summary.infoHashV2}`] : []),
		`Size: ${formatBytes(summary.totalSize)} (${grouped(summary.totalSize)} bytes) in ${countOf(summary.files.length, 'file')}` +
			(summary.padFiles > 0 ? ` (and ${countOf(summary.padFiles, 'pad file')}, left out)` : ''),
		`Pieces: ${grouped(summary.pieceCount)} of ${formatBytes(summary.pieceLength)} (${grouped(summary.pieceLength)} bytes)`,
		`Private: ${summary.private ? 'yes' : 'no'}`,
		...(summary.creationDate ? [`Created: ${summary.creationDate}`] : []),
		...(summary.createdBy ? [`Created by: ${shown(summary.createdBy)}`] : []),
		...(summary.comment ? [`Comment: ${shown(summary.comment)}`] : []),
		'',
		'Trackers:',
		...(summary.trackers.length === 0
			? ['  none']
			: summary.trackers.flatMap((tier, index) =>
					tier.map((url, position) => `  ${position === 0 ? `tier ${index + 1}:` : '       '} ${shown(url)}`),
				)),
		...(summary.webSeeds.length > 0
			? ['', 'Web seeds:', ...summary.webSeeds.map((url) => `  ${shown(url)}`)]
			: []),
		'',
		'Files:',
		...fileLines(summary.files),
	];
	return `${lines.join('\n')}\n`;
}

function fileLines(files: TorrentSummary['files']): string[] {
	const indexWidth = String(files.length).length;
	const sizeWidth = Math.max(...files.map((file) => grouped(file.size).length));
	return files.map(
		(file) =>
			`  ${String(file.index).padStart(indexWidth)}  ${grouped(file.size).padStart(sizeWidth)}  ${shown(file.path)}` +
			(file.symlink === undefined ? '' : ` -> ${shown(file.symlink)}`),
	);
}

/** The text `torrent-rx info` prints for a magnet link. */
export function formatMagnetSummary(summary: MagnetSummary): string {
	const lines = [
		...(summary.name === undefined ? [] : [`Name: ${shown(summary.name)}`]),
		`Info hash: ${summary.infoHash}`,
		'Trackers:',
		...(summary.trackers.length === 0 ? ['  none'] : summary.trackers.map((url) => `  ${shown(url)}`)),
		...(summary.peers.length > 0 ? ['Peers:', ...summary.peers.map((peer) => `  ${peer}`)] : []),
		...(summary.webSeeds.length > 0
			? ['Web seeds:', ...summary.webSeeds.map((url) => `  ${shown(url)}`)]
			: []),
		'(a magnet link: files and sizes come with its metadata, from peers)',
	];
	return `${lines.join('\n')}\n`;
}

/**
 * `torrent-rx info <file.torrent | magnet>`: the text (or with `json`, one JSON object) to print.
 * A torrent that cannot be read is a `MetainfoError`, as for a download.
 */
export async function infoCommand(input: string, {json}: {json: boolean}): Promise<string> {
	if (isMagnetLink(input)) {
		const summary = summarizeMagnet(parseMagnetLink(input));
		return json ? `${printableJson(summary)}\n` : formatMagnetSummary(summary);
	}

	const summary = summarizeTorrent(await readTorrentFile(input));
	return json ? `${printableJson(summary)}\n` : formatTorrentSummary(summary);
}
