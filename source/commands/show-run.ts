import process from 'node:process';
import {type Observable, scan, tap} from 'rxjs';
import type {TimedEvent} from '../events/events.js';
import {initialRunState, reduceRunState} from '../events/run-state.js';
import {minimalView} from '../ui/minimal.js';

/**
 * Subscribes the status view (and, with `debug`, a JSON line per event on stderr) to a run and
 * resolves when the run ends: true when it completed the download.
 */
export async function showRun(events$: Observable<TimedEvent>, {debug}: {debug: boolean}): Promise<boolean> {
	let completed = false;
	const state$ = events$.pipe(
		tap((event) => {
			completed ||= event.type === 'completed';
			if (debug) {
				process.stderr.write(`${JSON.stringify(event)}\n`);
			}
		}),
		scan(reduceRunState, initialRunState),
	);
	await new Promise<void>((resolve, reject) => {
		minimalView(state$, {interactive: process.stdout.isTTY === true}).subscribe({
			next: (line) => process.stdout.write(line),
			error: reject,
			complete: resolve,
		});
	});
	return completed;
}
