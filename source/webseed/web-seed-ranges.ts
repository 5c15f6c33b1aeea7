import type {StorageLayout} from '../storage/layout.js';

/**
 * One HTTP range to ask a web seed for: bytes `start` to `end` (inclusive, as RFC 9110's
 * `Range` counts) of file `fileIndex`, which are the payload's bytes from `payloadOffset` on.
 */
export type FileRange = {fileIndex: number; start: number; end: number; payloadOffset: number};

/**
 * The ranges that fetch pieces `first` to `last` from a web seed: the run's bytes, file by file,
 * one range per file (BEP 19: a web seed serves the files, not the pieces), in payload order. Pad
 * files (BEP 47) are never asked for: their bytes are known zeros and the server need not have
 * them; empty files and links hold no bytes.
 */
export function rangesForRun(layout: StorageLayout, first: number, last: number): FileRange[] {
	const ranges: FileRange[] = [];
	for (let index = first; index <= last; index++) {
		for (const span of layout.spans(index)) {
			const file = layout.files[span.fileIndex];
			if (!file || file.pad || file.symlinkTarget) {
				continue;
			}

			const previous = ranges.at(-1);
			if (previous?.fileIndex === span.fileIndex && previous.end + 1 === span.fileOffset) {
				// The run goes on in the same file across a piece boundary: one range still.
				previous.end += span.length;
			} else {
				const payloadOffset = index * layout.pieceLength + span.pieceOffset;
				ranges.push({
					fileIndex: span.fileIndex,
					start: span.fileOffset,
					end: span.fileOffset + span.length - 1,
					payloadOffset,
				});
			}
		}
	}

	return ranges;
}

/**
 * The ranges that fetch bytes `begin .. begin + length` of piece `index`: one block, asked of a
 * web seed in endgame as a peer asks for a block another peer is slow with. Pad files are not
 * asked for, as in a run.
 */
export function rangesForBlock(
	layout: StorageLayout,
	index: number,
	begin: number,
	length: number,
): FileRange[] {
	return layout.rangeSpans(index, begin, length).flatMap((span) => {
		const file = layout.files[span.fileIndex];
		return !file || file.pad || file.symlinkTarget
			? []
			: [
					{
						fileIndex: span.fileIndex,
						start: span.fileOffset,
						end: span.fileOffset + span.length - 1,
						payloadOffset: index * layout.pieceLength + begin + span.pieceOffset,
					},
				];
	});
}
