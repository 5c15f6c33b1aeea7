import type {StorageLayout} from '../storage/layout.js';
import {normalPriority, notWanted, WantedPieces} from './wanted-pieces.js';

/**
 * The pieces a selection of files wants: every piece that holds a byte of a selected file, the
 * pieces it shares with files not selected included (a piece is verified whole). Pad files
 * (BEP 47) and empty files want nothing. Undefined when every piece is wanted: the picker's
 * uniform fast path.
 */
export function wantedForFiles(
	layout: StorageLayout,
	selected: readonly boolean[],
): WantedPieces | undefined {
	const wanted = new WantedPieces(layout.pieceCount, notWanted);
	for (const [index, file] of layout.files.entries()) {
		if (selected[index] && !file.pad && file.length > 0) {
			const first = Math.floor(file.offset / layout.pieceLength);
			const last = Math.floor((file.offset + file.length - 1) / layout.pieceLength);
			wanted.setRange(first, last, normalPriority);
		}
	}

	return wanted.wantedCount === layout.pieceCount ? undefined : wanted;
}
