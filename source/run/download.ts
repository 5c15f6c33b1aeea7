import {concat, mergeMap, type Observable, of} from 'rxjs';
import {numberedFiles} from '../codec/file-selection.js';
import type {Metainfo} from '../codec/metainfo.js';
import type {RunEvent} from '../events/events.js';
import {withResource} from '../rx/with-resource.js';
import {StorageLayout} from '../storage/layout.js';
import {piecesOnDisk} from '../verify/check-existing.js';
import {sha1PieceVerifier} from '../verify/piece-verifier.js';
import type {DownloadOptions, DownloadPorts} from './download-options.js';
import {exchangePieces} from './exchange-pieces.js';
import {makeTorrentLinks} from './link-events.js';

export type {DownloadOptions, DownloadPorts} from './download-options.js';
export type {SeedOptions} from './seeding-done.js';

/**
 * A whole run as one Observable of events: open the files and make the links (BEP 47),
 * announce, exchange pieces with the peers the trackers name and the peers that call us, verify
 * and write every piece, announce `completed`; then either complete, or keep seeding until the
 * seed options say stop.
 * Unsubscribing at any point closes every socket and file and sends `stopped` to the tracker.
 */
export function download(
	metainfo: Metainfo,
	ports: DownloadPorts,
	options: DownloadOptions,
): Observable<RunEvent> {
	const layout = new StorageLayout(metainfo.files, metainfo.pieceLength);
	const started: RunEvent = {
		type: 'started',
		name: metainfo.name,
		infoHash: metainfo.infoHash.toString('hex'),
		pieceCount: layout.pieceCount,
		pieceLength: metainfo.pieceLength,
		// The user's bytes: pad files (BEP 47) are not counted.
		totalLength: layout.userLength,
		files: numberedFiles(metainfo.files).map(({number, fileIndex, path}) => ({
			number,
			path,
			offset: metainfo.files[fileIndex]?.offset ?? 0,
			length: metainfo.files[fileIndex]?.length ?? 0,
			selected: options.selected?.[fileIndex] ?? true,
		})),
	};
	return withResource(ports.openStore(layout), (store) => {
		const resume = ports.openResume?.(layout);
		const verifyStoredPiece = sha1PieceVerifier(ports.hashStoredPiece, metainfo.pieceHashes);
		const check$ = piecesOnDisk(store, resume, verifyStoredPiece, layout);
		return concat(
			of(started),
			// BEP 47 links, once the files they may point to are made; before the check, as libtorrent.
			makeTorrentLinks(ports.makeLinks, metainfo.files),
			check$.pipe(
				mergeMap((item) =>
					item.type === 'check-result'
						? exchangePieces(metainfo, layout, ports, options, {store, have: item.have, resume})
						: of(item),
				),
			),
		);
	});
}
