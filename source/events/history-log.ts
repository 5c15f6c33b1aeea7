import {createWriteStream} from 'node:fs';
import {readFile} from 'node:fs/promises';
import {defer, from, type MonoTypeOperatorFunction, Observable, type Subscriber, switchMap} from 'rxjs';
import {printableJson} from '../codec/printable.js';
import {TorrentRxError} from '../errors.js';
import {openLogFile} from '../storage/own-files.js';
import {eventShapeProblem} from './event-shape.js';
import type {TimedEvent} from './events.js';

/** What the history log lets through, so that no peer and no slow disk can make it grow without bound. */
export const historyLimits = {
	/** Lines a minute one peer may cause of the kinds it can make us write for a few bytes each. */
	linesPerPeerPerMinute: 60,
	/** Lines held while the file does not keep up: past this, peers' events are summarised. */
	pendingChars: 1 << 20,
	/** Addresses kept in the line of a tracker reply or a PEX message: the rest are counted. */
	addressesPerLine: 5,
};

const minuteMs = 60_000;

/** Events a peer causes with a 5-byte message (choke flapping, extended handshakes resent, PEX). */
const budgeted: ReadonlySet<string> = new Set([
	'peer-choked',
	'peer-unchoked',
	'peer-identified',
	'peers-found',
]);

/** Per-peer events the log may summarise: the budgeted ones, and uploads (summed) under back-pressure. */
const summarised: ReadonlySet<string> = new Set([...budgeted, 'uploaded']);

/**
 * What the log left out of one peer's events: a count per type, and what a replay needs to end
 * in the same state (its last choke or unchoke, its client name, the bytes uploaded to it).
 */
type Left = {counts: Record<string, number>; choke?: TimedEvent; identified?: TimedEvent; uploaded: number};

/** The history log's line that stands for the events it left out of one peer's (see `historyLimits`). */
export type LogDropped = {type: 'log-dropped'; peer: string; counts: Record<string, number>; at: number};

/** The peer an event is about, when a peer caused it. */
function peerOf(event: TimedEvent): string | undefined {
	return event.type === 'peers-found' ? event.from : 'peer' in event ? event.peer : undefined;
}

/** One JSON line; a reply's addresses past the first few are counted (`omitted`), not listed. */
function lineOf(event: TimedEvent | LogDropped, addresses: number): string {
	if (
		(event.type === 'announce-answered' || event.type === 'peers-found') &&
		event.peers.length > addresses
	) {
		return printableJson({
			...event,
			peers: event.peers.slice(0, addresses),
			omitted: event.peers.length - addresses,
		});
	}

	return printableJson(event);
}

/** Where the log's text goes: a file stream, as far as the writer needs one. */
export type HistorySink = {
	write(chunk: string): boolean;
	once(event: 'drain', listener: () => void): unknown;
	end(callback?: () => void): unknown;
};

/**
 * Writes events to `sink` as JSON lines, one `write` a tick for all of them, waiting for
 * `drain` when the sink's buffer is full. Its growth is bounded: each peer gets
 * `linesPerPeerPerMinute` lines of the events it can cause at will, and while the sink does not
 * keep up (`pendingChars` held) its `summarised` events are set aside too. What was set aside
 * becomes one `log-dropped` line per peer, and the events that leave the replay in the same
 * state, each minute, on drain, before the peer disconnects and at the end. The other
 * events are bounded by the torrent (pieces) or the run (connections, announces), and are kept.
 */
export class HistoryWriter {
	readonly #sink: HistorySink;
	readonly #limits: typeof historyLimits;
	#pending = '';
	#blocked = false;
	#flush: NodeJS.Immediate | undefined;
	#ended = false;
	#minuteFrom: number | undefined;
	#now = 0;
	/** Lines each peer has used this minute. */
	readonly #used = new Map<string, number>();
	readonly #left = new Map<string, Left>();

	constructor(sink: HistorySink, limits = historyLimits) {
		this.#sink = sink;
		this.#limits = limits;
	}

	add(event: TimedEvent): void {
		if (this.#ended) {
			return;
		}

		this.#now = event.at;
		if (this.#minuteFrom === undefined || event.at - this.#minuteFrom >= minuteMs) {
			this.#minuteFrom = event.at;
			this.#used.clear();
			this.#release();
		}

		const peer = peerOf(event);
		if (peer !== undefined && this.#setAside(peer, event)) {
			return;
		}

		if (event.type === 'peer-disconnected' && this.#left.size > 0) {
			// What was left out of a peer comes before it goes: a replay must not bring it back.
			this.#releasePeer(event.peer);
		}

		this.#append(lineOf(event, this.#limits.addressesPerLine));
	}

	/** Writes what is held and what was set aside, then ends the sink; `done` once it is flushed. */
	end(done?: () => void): void {
		if (this.#ended) {
			done?.();
			return;
		}

		this.#release();
		this.#ended = true;
		clearImmediate(this.#flush);
		const rest = this.#pending;
		this.#pending = '';
		if (rest !== '') {
			this.#sink.write(rest);
		}

		this.#sink.end(done);
	}

	/** Whether `event` is set aside (counted, its state kept) instead of written. */
	#setAside(peer: string, event: TimedEvent): boolean {
		if (!summarised.has(event.type)) {
			return false;
		}

		const pressed = this.#blocked && this.#pending.length >= this.#limits.pendingChars;
		if (!pressed && budgeted.has(event.type)) {
			const used = this.#used.get(peer) ?? 0;
			if (used < this.#limits.linesPerPeerPerMinute) {
				this.#used.set(peer, used + 1);
				return false;
			}
		} else if (!pressed) {
			return false;
		}

		let left = this.#left.get(peer);
		if (!left) {
			left = {counts: {}, uploaded: 0};
			this.#left.set(peer, left);
		}

		left.counts[event.type] = (left.counts[event.type] ?? 0) + 1;
		if (event.type === 'peer-choked' || event.type === 'peer-unchoked') {
			left.choke = event;
		} else if (event.type === 'peer-identified') {
			left.identified = event;
		} else if (event.type === 'uploaded') {
			left.uploaded += event.bytes;
		}

		return true;
	}

	#release(): void {
		for (const peer of [...this.#left.keys()]) {
			this.#releasePeer(peer);
		}
	}

	/** The `log-dropped` line for `peer`, then its last choke state, client name and uploads. */
	#releasePeer(peer: string): void {
		const left = this.#left.get(peer);
		if (!left) {
			return;
		}

		this.#left.delete(peer);
		const at = this.#now;
		const lines: Array<TimedEvent | LogDropped> = [{type: 'log-dropped', peer, counts: left.counts, at}];
		if (left.choke) {
			lines.push({...left.choke, at});
		}

		if (left.identified) {
			lines.push({...left.identified, at});
		}

		if (left.uploaded > 0) {
			lines.push({type: 'uploaded', peer, bytes: left.uploaded, at});
		}

		for (const line of lines) {
			this.#append(lineOf(line, this.#limits.addressesPerLine));
		}
	}

	#append(line: string): void {
		this.#pending += `${line}\n`;
		if (!this.#blocked && this.#flush === undefined) {
			// One write a tick for every line of it: a fast download adds thousands.
			this.#flush = setImmediate(() => this.#write());
		}
	}

	#write(): void {
		this.#flush = undefined;
		if (this.#ended || this.#blocked || this.#pending === '') {
			return;
		}

		const chunk = this.#pending;
		this.#pending = '';
		this.#blocked = !this.#sink.write(chunk);
		if (this.#blocked) {
			this.#sink.once('drain', () => {
				this.#blocked = false;
				this.#release();
				this.#write();
			});
		}
	}
}

/**
 * Appends every event to `file` as one JSON line (the history log), passing it on unchanged;
 * what a line holds and when the log summarises is `HistoryWriter`'s. The file is opened on
 * subscribe; on completion the stream is flushed before completing.
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
						return writeHistory(log, events$, subscriber);
					}),
			),
		);
}

/** Feeds `events$` to a `HistoryWriter` on `log` and on to `subscriber`; returns the teardown. */
function writeHistory(log: HistorySink, events$: Observable<TimedEvent>, subscriber: Subscriber<TimedEvent>) {
	const writer = new HistoryWriter(log);
	const subscription = events$.subscribe({
		next(event) {
			writer.add(event);
			subscriber.next(event);
		},
		error(error: unknown) {
			writer.end(() => subscriber.error(error));
		},
		complete() {
			writer.end(() => subscriber.complete());
		},
	});
	return () => {
		subscription.unsubscribe();
		writer.end();
	};
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

			return parsed as TimedEvent | LogDropped;
		})
		// A summary of what the log left out says nothing a replay shows.
		.filter((event): event is TimedEvent => event.type !== 'log-dropped');
	const lastStart = events.findLastIndex((event) => event.type === 'started');
	if (lastStart < 0) {
		throw new TorrentRxError(`${file} holds no recorded run`);
	}

	return events.slice(lastStart);
}
