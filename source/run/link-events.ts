import {catchError, defer, EMPTY, from, mergeMap, type Observable, of} from 'rxjs';
import type {FileEntry} from '../codec/metainfo.js';
import {linkTargetText} from '../codec/symlink-path.js';
import type {RunEvent} from '../events/events.js';
import type {SkippedLink} from '../storage/symlinks.js';
import type {DownloadPorts} from './download-options.js';

/** The most `link-skipped` events a run emits: a stranger's torrent may hold a million bad links. */
export const maxLinkEvents = 20;

/** A file the run makes as a link: one with a target that is not a pad file (BEP 47). */
const isLink = (file: FileEntry) => file.symlinkTarget !== undefined && !file.pad;

/**
 * One `link-skipped` event for each of the first `limit` links skipped; when there were more,
 * the last of them counts the rest (`omitted`), as a tracker reply's line counts its addresses.
 */
export function linkSkippedEvents(skipped: readonly SkippedLink[], limit = maxLinkEvents): RunEvent[] {
	const shown = skipped.slice(0, limit);
	const omitted = skipped.length - shown.length;
	return shown.map(
		(link, index): RunEvent => ({
			type: 'link-skipped',
			...link,
			...(omitted > 0 && index === shown.length - 1 ? {omitted} : {}),
		}),
	);
}

/**
 * Makes the torrent's links (BEP 47 `attr` `l`) through `makeLinks`, once, and emits what was
 * skipped (`linkSkippedEvents`); nothing at all for a torrent without links. A link never fails
 * the run: should the port fail as a whole, every link is reported skipped with its reason.
 */
export function makeTorrentLinks(
	makeLinks: DownloadPorts['makeLinks'],
	files: readonly FileEntry[],
): Observable<RunEvent> {
	if (!makeLinks || !files.some(isLink)) {
		return EMPTY;
	}

	return defer(() => makeLinks(files)).pipe(
		catchError((error: unknown) => {
			const reason = `the links could not be made: ${error instanceof Error ? error.message : String(error)}`;
			return of(
				files
					.filter(isLink)
					.map((file) => ({path: file.path.join('/'), target: linkTargetText(file), reason})),
			);
		}),
		mergeMap((skipped) => from(linkSkippedEvents(skipped))),
	);
}
