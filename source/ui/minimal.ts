import {
	asyncScheduler,
	auditTime,
	connect,
	distinctUntilChanged,
	EMPTY,
	filter,
	map,
	merge,
	type Observable,
	type SchedulerLike,
	sampleTime,
	takeLast,
	takeWhile,
} from 'rxjs';
import {printable} from '../codec/printable.js';
import type {RunState} from '../events/run-state.js';
import {countOf, formatBytes, formatRate, formatSelection, maxNameLength} from './format.js';

/**
 * The original client's one status line, e.g. `Downloading NAME: 12 pieces of 1340 completed (8 peers) 41.2 MB/s`;
 * with some files selected, they follow the name: `Downloading NAME (3 of 12 files, 1.4 GB of 9.8 GB): …`.
 */
export function statusLine(state: RunState): string {
	// The torrent's name (or a magnet's dn) is a stranger's text: no escape reaches the terminal.
	const selection = formatSelection(state.selection);
	const name = `${printable(state.name, maxNameLength)}${selection ? ` (${selection})` : ''}`;
	const progress = `${state.piecesDone} pieces of ${state.pieceCount} completed`;
	switch (state.phase) {
		case 'starting':
			return 'Starting…';
		case 'completed':
			return `Downloaded ${name}: ${progress}`;
		case 'fetching-metadata':
			return `Fetching the torrent of ${name} from peers (${countOf(state.connectedPeers, 'peer')})`;
		case 'checking':
			return `Checking ${name}: ${state.checked} of ${state.toCheck} pieces on disk checked`;
		case 'seeding':
			return `Seeding ${name}: uploaded ${formatBytes(state.bytesUploaded)} (${countOf(state.connectedPeers, 'peer')}) ${formatRate(state.uploadRate)}`;
		case 'starving':
			return `Waiting for peers for ${name}: ${progress} (re-announcing)`;
		default:
			return `Downloading ${name}: ${progress} (${countOf(state.connectedPeers, 'peer')}) ${formatRate(state.downloadRate)}`;
	}
}

/**
 * Status lines to print: on a terminal one line rewritten in place a few times a second; in a
 * pipe or a log, a plain line every few seconds when it changed, and at once when a check is
 * done, the download completes or seeding starts (a run that completes and seeds within five
 * seconds would otherwise never print its completion). The final state always gets its own
 * line, and nothing sampled earlier may print after it.
 */
export function minimalView(
	state$: Observable<RunState>,
	{interactive, scheduler = asyncScheduler}: {interactive: boolean; scheduler?: SchedulerLike},
): Observable<string> {
	const render = (state: RunState, final: boolean) =>
		interactive ? `\r\u001B[2K${statusLine(state)}${final ? '\n' : ''}` : `${statusLine(state)}\n`;
	return state$.pipe(
		connect((shared) =>
			merge(
				shared.pipe(
					interactive ? auditTime(200, scheduler) : sampleTime(5000, scheduler),
					map((state) => ({state, final: false})),
				),
				interactive
					? EMPTY
					: shared.pipe(
							distinctUntilChanged((a, b) => a.milestones === b.milestones),
							filter((state) => state.milestones > 0),
							map((state) => ({state, final: false})),
						),
				shared.pipe(
					takeLast(1),
					map((state) => ({state, final: true})),
				),
			),
		),
		takeWhile(({final}) => !final, true),
		distinctUntilChanged((a, b) => !interactive && statusLine(a.state) === statusLine(b.state)),
		map(({state, final}) => render(state, final)),
	);
}
