import process from 'node:process';
import {
	catchError,
	connect,
	finalize,
	ignoreElements,
	map,
	merge,
	type Observable,
	of,
	Subject,
	takeUntil,
	tap,
} from 'rxjs';
import {printable, printableJson} from '../codec/printable.js';
import {describeError} from '../errors.js';
import type {TimedEvent} from '../events/events.js';
import type {RunState} from '../events/run-state.js';
import {sampleRunState} from '../events/sample-state.js';
import {serveMetrics} from '../metrics/metrics-server.js';
import type {RunMetrics} from '../metrics/run-metrics.js';
import {withResource} from '../rx/with-resource.js';
import {minimalView} from '../ui/minimal.js';
import {snapshot} from '../ui/snapshot.js';
import {serveWebView} from '../ui/web/web-server.js';

/** `ncurses` is the original client's name for the terminal table. */
export const viewModes = ['ink', 'ncurses', 'minimal', 'web'] as const;
export type ViewMode = (typeof viewModes)[number];

export type Address = {host: string; port: number};

export type ShowOptions = {
	debug: boolean;
	/** How the run is shown; `minimal` when absent. */
	mode?: ViewMode;
	/** Where the metrics are served: 127.0.0.1:5000 by default; none when absent. */
	metrics?: Address;
	/** Where `--mode web` serves its page. */
	web?: Address;
};

/** How a shown run ended: whether it completed the download, and whether the user quit the view. */
export type ShowOutcome = {completed: boolean; quit: boolean};

const warn = (what: string) => (error: unknown) => {
	process.stderr.write(`torrent-rx: ${what}: ${printable(describeError(error), 2000)}\n`);
	return of(undefined);
};

/**
 * Serves the metrics for as long as the run goes; a port already taken is a warning, not the
 * end of the download.
 */
function withMetrics(
	events$: Observable<TimedEvent>,
	address: Address | undefined,
	metrics: RunMetrics | undefined,
): Observable<TimedEvent> {
	if (!address || !metrics) {
		return events$;
	}

	const observed$ = events$.pipe(tap((event) => metrics.observe(event)));
	return withResource(
		serveMetrics(metrics.registry, address).pipe(catchError(warn('no metrics'))),
		() => observed$,
	);
}

/** The status line on stdout: rewritten in place on a terminal, a line every few seconds in a pipe. */
function printStatus(state$: Observable<RunState>): Observable<never> {
	return minimalView(state$, {interactive: process.stdout.isTTY === true}).pipe(
		tap((line) => process.stdout.write(line)),
		ignoreElements(),
	);
}

/** The web page (and the status line beside it); without a port to serve on, the status line alone. */
function webView(state$: Observable<RunState>, address: Address): Observable<never> {
	return withResource(serveWebView(address).pipe(catchError(warn('no web view'))), (web) => {
		if (!web) {
			return printStatus(state$);
		}

		process.stdout.write(`Web view at ${web.url}\n`);
		return state$.pipe(
			connect((shared$) =>
				merge(
					shared$.pipe(
						tap((state) => web.show(snapshot(state))),
						finalize(() => web.end()),
						ignoreElements(),
					),
					printStatus(shared$),
				),
			),
		);
	});
}

/**
 * Shows a run in the chosen view and serves its metrics, with (under `debug`) a JSON line per
 * event on stderr, and resolves when the run ends. Views see a state sampled ten times a
 * second, so drawing never slows the download; quitting the view stops the run.
 */
export async function showRun(
	events$: Observable<TimedEvent>,
	{debug, mode = 'minimal', metrics, web}: ShowOptions,
): Promise<ShowOutcome> {
	let completed = false;
	const quit$ = new Subject<void>();
	let quit = false;
	// prom-client takes a tenth of a second to load: only when the metrics are served.
	const runMetrics = metrics ? (await import('../metrics/run-metrics.js')).createRunMetrics() : undefined;
	const state$ = withMetrics(events$.pipe(takeUntil(quit$)), metrics, runMetrics).pipe(
		tap((event) => {
			completed ||= event.type === 'completed';
			if (debug) {
				// Names and reasons from strangers: escaped, so the line shows only itself.
				process.stderr.write(`${printableJson(event)}\n`);
			}
		}),
		sampleRunState(),
	);
	const onQuit = () => {
		quit = true;
		quit$.next();
	};

	// Ink and React take half a second to load: only for the view that needs them.
	const {inkView} = mode === 'ink' || mode === 'ncurses' ? await import('../ui/ink/ink-view.js') : {};
	const view$ = inkView
		? inkView(state$.pipe(map(snapshot)), onQuit)
		: mode === 'web'
			? webView(state$, web ?? {host: '127.0.0.1', port: 3000})
			: printStatus(state$);
	await new Promise<void>((resolve, reject) => {
		view$.subscribe({error: reject, complete: resolve});
	});
	return {completed, quit};
}
