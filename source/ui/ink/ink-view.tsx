import {render, useInput, useStdin, useStdout} from 'ink';
import {useEffect, useState} from 'react';
import {Observable} from 'rxjs';
import type {RunSnapshot} from '../snapshot.js';
import {RunView, type RunViewList} from './run-view.js';

function useTerminalSize() {
	const {stdout} = useStdout();
	const read = () => ({columns: stdout.columns || 80, rows: stdout.rows || 24});
	const [size, setSize] = useState(read);
	useEffect(() => {
		const resized = () => setSize(read());
		stdout.on('resize', resized);
		return () => {
			stdout.off('resize', resized);
		};
	});
	return size;
}

/** The view sized to the terminal; `f` switches between the peer table and the file list, `q` or Ctrl-C quits. */
export function LiveRunView({view, onQuit}: {view: RunSnapshot; onQuit: () => void}) {
	const {columns, rows} = useTerminalSize();
	const {isRawModeSupported} = useStdin();
	const [list, setList] = useState<RunViewList>('peers');
	// Raw mode swallows Ctrl-C's signal, so it quits the same way `q` does: the run stops cleanly.
	useInput(
		(input, key) => {
			if (input === 'q' || (key.ctrl && input === 'c')) {
				onQuit();
			} else if (input === 'f') {
				setList((shown) => (shown === 'files' ? 'peers' : 'files'));
			}
		},
		{isActive: isRawModeSupported === true},
	);
	return <RunView view={view} columns={columns} rows={rows} list={list} />;
}

/**
 * The Ink terminal view for as long as `snapshots$` runs: each snapshot re-renders the app
 * (Ink itself caps the frame rate). When the run ends, the last frame stays on screen.
 */
export function inkView(snapshots$: Observable<RunSnapshot>, onQuit: () => void): Observable<never> {
	return new Observable<never>((subscriber) => {
		let app: ReturnType<typeof render> | undefined;
		const show = (view: RunSnapshot) => <LiveRunView view={view} onQuit={onQuit} />;
		const subscription = snapshots$.subscribe({
			next(view) {
				if (app) {
					app.rerender(show(view));
				} else {
					app = render(show(view), {exitOnCtrlC: false, patchConsole: false});
				}
			},
			error: (error: unknown) => subscriber.error(error),
			complete() {
				app?.unmount();
				const exited = app ? app.waitUntilExit() : Promise.resolve();
				exited.then(
					() => subscriber.complete(),
					(error: unknown) => subscriber.error(error),
				);
			},
		});
		return () => {
			subscription.unsubscribe();
			app?.unmount();
		};
	});
}
