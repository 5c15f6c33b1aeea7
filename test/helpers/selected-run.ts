import type {TimedEvent} from '../../source/events/events.js';

/** A megabyte, as the views count. */
export const mb = 1_000_000;

/** Four files over six pieces of 1 MB; the second and the fourth selected (`--select 2,4`). */
export const selectedRun: readonly TimedEvent[] = [
	{
		type: 'started',
		name: 'album',
		infoHash: 'cd'.repeat(20),
		pieceCount: 6,
		pieceLength: mb,
		totalLength: 6 * mb,
		files: [
			{number: 1, path: 'album/cover.nfo', offset: 0, length: mb / 2, selected: false},
			{number: 2, path: 'album/side-a.flac', offset: mb / 2, length: 3 * mb, selected: true},
			{number: 3, path: 'album/bonus.flac', offset: 3.5 * mb, length: 1.5 * mb, selected: false},
			{number: 4, path: 'album/side-b.flac', offset: 5 * mb, length: mb, selected: true},
		],
		at: 0,
	},
	// Piece 0 was on disk: half of file 1 and the first half megabyte of file 2.
	{
		type: 'checked',
		pieces: 1,
		total: 6,
		bytes: mb,
		have: Buffer.from([0b1000_0000]).toString('base64'),
		at: 10,
	},
	{type: 'piece-verified', peer: '127.0.0.1:6881', index: 5, bytes: mb, at: 1000},
];
