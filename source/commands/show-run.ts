import process from 'node:process';
import {catchError, type Observable, of, scan, tap} from 'rxjs';
import {describeError} from '../errors.js';
import type {TimedEvent} from '../events/events.js';
import {initialRunState, reduceRunState} from '../events/run-state.js';
import {serveMetrics} from '../metrics/metrics-server.js';
import {createRunMetrics} from '../metrics/run-metrics.js';
import {useResource} from '../rx/use-resource.js';
import {minimalView} from '../ui/minimal.js';

export type ShowOptions = {
	debug: boolean;
	/** Where the metrics are served: 127.0.0.1:5000 by default; none when absent. */
	metrics?: {host: string; port: number};
};

/**
 * Serves the metrics for as long as the run goes; a port already taken is a warning, not the
 * end of the download.
 */
function withMetrics(
	events$: Observable<TimedEvent>,
	address: ShowOptions['metrics'],
): Observable<TimedEvent> {
	if (!address) {
		return events$;
	}

	const metrics = createRunMetrics();
	const observed$ = events$.pipe(tap((event) => metrics.observe(event)));
	return useResource(
		serveMetrics(metrics.registry, address).pipe(
			catchError((error: unknown) => {
				process.stderr.write(`torrent-rx: no metrics: ${describeError(error)}\n`);
				return of('');
			}),
		),
		() => observed$,
	);
}

/**
 * Subscribes the status view, the metrics and (with `debug`) a JSON line per event on stderr
 * to a run, and resolves when the run ends: true when it completed the download.
 */
export async function showRun(
	events$: Observable<TimedEvent>,
	{debug, metrics}: ShowOptions,
): Promise<boolean> {
	let completed = false;
	const state$ = withMetrics(events$, metrics).pipe(
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
