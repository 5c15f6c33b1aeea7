import {createWriteStream} from 'node:fs';
import {readFile} from 'node:fs/promises';
import {defer, from, type MonoTypeOperatorFunction, Observable, switchMap} from 'rxjs';
import {TorrentRxError} from '../errors.js';
import {openLogFile} from '../storage/own-files.js';
import {eventShapeProblem} from './event-shape.js';
import type {TimedEvent} from './events.js';

/**
 * Appends every event to `file` as one JSON line (the history log), passing it on unchanged.
 * The file is opened on subscribe; on completion the stream is flushed before completing.
 */
export function recordHistory(file: string): MonoTypeOperatorFunction<TimedEvent> {
	return (events$) =>
		defer(() => from(openLogFile(file))).pipe(
			switchMap(
				(handle) =>
					new Observable<TimedEvent>((subscriber) => {
						const log = createWriteStream(file, {fd: handle});
						log.once('error', (error) =>
							subscriber.error(new TorrentRxError(`cannot write the history log ${file}`, {cause: error})),
						);
						const subscription = events$.subscribe({
							next(event) {
								log.write(`${JSON.stringify(event)}\n`);
								subscriber.next(event);
							},
							error(error: unknown) {
								log.end(() => subscriber.error(error));
							},
							complete() {
								log.end(() => subscriber.complete());
							},
						});
						return () => {
							subscription.unsubscribe();
							log.end();
						};
					}),
			),
		);
}

/**
 * The events of the last run recorded in a history log: a log appended to by several runs
 * holds several, each beginning with its `started` event.
 */
export async function readLastRun(file: string): Promise<TimedEvent[]> {
	let text: string;
	try {
		text = await readFile(file, 'utf8');
	} catch (error) {
		throw new TorrentRxError(`cannot read the history log ${file}`, {cause: error});
	}

	const events = text
		.split('\n')
		.filter((line) => line.trim() !== '')
		.map((line, index) => {
			let parsed: unknown;
			try {
				parsed = JSON.parse(line) as unknown;
			} catch (error) {
				throw new TorrentRxError(`${file}: line ${index + 1} is not a recorded event`, {cause: error});
			}

			if (
				typeof parsed !== 'object' ||
				parsed === null ||
				typeof (parsed as {type?: unknown}).type !== 'string'
			) {
				throw new TorrentRxError(`${file}: line ${index + 1} is not a recorded event`);
			}

			// A damaged or hand-edited log is refused here, not met as a TypeError in the middle of a replay.
			const problem = eventShapeProblem(parsed as {type: string});
			if (problem) {
				throw new TorrentRxError(`${file}: line ${index + 1} is not a recorded event: ${problem}`);
			}

			return parsed as TimedEvent;
		});
	const lastStart = events.findLastIndex((event) => event.type === 'started');
	if (lastStart < 0) {
		throw new TorrentRxError(`${file} holds no recorded run`);
	}

	return events.slice(lastStart);
}
