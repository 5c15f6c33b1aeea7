import {mkdtemp, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import test, {type ExecutionContext} from 'ava';
import fc from 'fast-check';
import {VirtualTimeScheduler} from 'rxjs';
import {TorrentRxError} from '../../source/errors.js';
import type {RunEvent, TimedEvent} from '../../source/events/events.js';
import {readLastRun} from '../../source/events/history-log.js';
import {replayEvents} from '../../source/events/replay.js';
import {initialRunState, reduceRunState} from '../../source/events/run-state.js';
import {statusLine} from '../../source/ui/minimal.js';
import {snapshot} from '../../source/ui/snapshot.js';
import {expectOutcomeAsync, fuzzParameters, holdsAsync, invariant} from './harness.js';
import {applyJsonMutation, hostileJsonValues, type JsonValue, jsonMutation, mutatedText} from './mutate.js';
import {infoHashHex, ipv4Peer} from './seeds.js';

const runs = fuzzParameters(250, 10);

const peer = fc.constantFrom('10.0.0.1:6881', '10.0.0.2:51413', '[::1]:6881');
const tracker = fc.constantFrom('http://127.0.0.1:6969/announce', 'udp://t.example:80', 'not a url');
const announceEvent = fc.constantFrom(
	'started' as const,
	'completed' as const,
	'stopped' as const,
	'regular' as const,
);
const count = fc.nat({max: 10_000});

/** The event that opens a run. */
const startedEvent: fc.Arbitrary<RunEvent> = fc.record({
	type: fc.constant('started' as const),
	name: fc.string(),
	infoHash: infoHashHex,
	pieceCount: count,
	pieceLength: fc.constant(16_384),
	totalLength: fc.nat(),
});

/** One event of every other kind a run records, with plausible fields. */
const runEvent: fc.Arbitrary<RunEvent> = fc.oneof(
	fc.record({type: fc.constant('checking' as const), checked: count, total: count}),
	fc.record({type: fc.constant('checked' as const), pieces: count, total: count, bytes: fc.nat()}),
	fc.record({type: fc.constant('announce-sent' as const), tracker, event: announceEvent}),
	fc.record({
		type: fc.constant('announce-answered' as const),
		tracker,
		event: announceEvent,
		peers: fc.array(ipv4Peer, {maxLength: 3}),
		interval: count,
	}),
	fc.record({
		type: fc.constant('announce-failed' as const),
		tracker,
		event: announceEvent,
		reason: fc.string(),
	}),
	fc.record({
		type: fc.constant('peer-connecting' as const),
		peer,
		source: fc.constantFrom('tracker' as const, 'dht' as const, 'pex' as const),
	}),
	fc.record({type: fc.constant('peer-connected' as const), peer, peerId: fc.string({maxLength: 20})}),
	fc.record({type: fc.constant('peer-identified' as const), peer, client: fc.string()}),
	fc.record({type: fc.constantFrom('peer-choked' as const, 'peer-unchoked' as const), peer}),
	fc.record({type: fc.constant('peer-disconnected' as const), peer, reason: fc.string()}),
	fc.record({type: fc.constant('piece-started' as const), peer, index: count}),
	fc.record({type: fc.constant('piece-verified' as const), peer, index: count, bytes: count}),
	fc.record({type: fc.constant('piece-failed' as const), peer, index: count, strikes: fc.nat({max: 3})}),
	fc.record({type: fc.constant('uploaded' as const), peer, bytes: count}),
	fc.record({
		type: fc.constant('link-skipped' as const),
		path: fc.string(),
		target: fc.string(),
		reason: fc.string(),
		omitted: fc.nat(),
	}),
	fc.record({type: fc.constant('completed' as const), bytes: fc.nat()}),
	fc.constantFrom<RunEvent>({type: 'seeding'}, {type: 'no-peers'}),
	fc.record({type: fc.constant('error' as const), message: fc.string()}),
);

/** Runs as a log holds them: each opens with `started`, times never go back. */
const recordedRuns = fc
	.array(
		fc.tuple(
			fc.tuple(startedEvent, fc.nat({max: 10_000})),
			fc.array(fc.tuple(runEvent, fc.nat({max: 10_000})), {maxLength: 15}),
		),
		{minLength: 1, maxLength: 3},
	)
	.map((logRuns) => {
		let at = 1_700_000_000_000;
		return logRuns
			.flatMap(([start, rest]) => [start, ...rest])
			.map(([event, gap]): TimedEvent => {
				at += gap;
				return {...event, at};
			});
	});

const logText = (events: readonly TimedEvent[]) =>
	events.map((event) => `${JSON.stringify(event)}\n`).join('');

/** A damaged log: text mutations, or fields of some events given wrong types, or lines lost. */
const damagedLog = fc.oneof(
	mutatedText(recordedRuns.map(logText)),
	fc
		.tuple(recordedRuns, fc.array(fc.tuple(fc.nat(), jsonMutation), {minLength: 1, maxLength: 4}))
		.map(([events, mutations]) => {
			const lines = events.map((event) => JSON.parse(JSON.stringify(event)) as JsonValue);
			for (const [line, mutation] of mutations) {
				const index = line % lines.length;
				lines[index] = applyJsonMutation(lines[index] ?? null, mutation);
			}

			return lines.map((line) => `${JSON.stringify(line)}\n`).join('');
		}),
	// An event without one of its fields, or with a field of the wrong type.
	{
		arbitrary: fc
			.tuple(
				recordedRuns,
				fc.array(
					fc.record({
						line: fc.nat(),
						field: fc.nat(),
						value: fc.option(fc.constantFrom(...hostileJsonValues), {nil: undefined}),
					}),
					{minLength: 1, maxLength: 6},
				),
			)
			.map(([events, damages]) => {
				const lines = events.map((event) => ({...event}) as Record<string, unknown>);
				for (const {line, field, value} of damages) {
					const event = lines[line % lines.length] ?? {};
					const keys = Object.keys(event);
					const key = keys[field % keys.length] ?? 'type';
					if (value === undefined) {
						delete event[key];
					} else {
						event[key] = value;
					}
				}

				return lines.map((line) => `${JSON.stringify(line)}\n`).join('');
			}),
		weight: 3,
	},
	fc.constantFrom(
		'',
		'\n\n',
		'{}',
		'null',
		'{"type":"started","at":1e400}',
		`${'['.repeat(100_000)}\n`,
		'\uFEFF{"type":"started","at":0}',
	),
);

/** A file to write logs to, removed after the test. */
async function logFile(t: ExecutionContext): Promise<string> {
	const folder = await mkdtemp(path.join(tmpdir(), 'torrent-rx-fuzz-history-'));
	t.teardown(async () => rm(folder, {recursive: true, force: true}));
	return path.join(folder, 'history.log');
}

/** Reads the log as `--replay` does: the last run's events, or a TorrentRxError. */
async function read(file: string, text: string) {
	await writeFile(file, text);
	const outcome = await expectOutcomeAsync(async () => readLastRun(file), [TorrentRxError]);
	if (outcome.ok) {
		invariant(outcome.value[0]?.type === 'started', 'the run opens with its started event');
		invariant(
			outcome.value.every(
				(event) =>
					typeof event === 'object' && typeof event.type === 'string' && typeof event.at === 'number',
			),
			'every event has a type and a time',
		);
	}

	return outcome;
}

/** Replays `events` in virtual time: each of them, in order, after at most the recorded span. */
function replayInVirtualTime(events: readonly TimedEvent[], speed: number): void {
	const scheduler = new VirtualTimeScheduler();
	const replayed: TimedEvent[] = [];
	let completed = false;
	replayEvents(events, {speed, scheduler}).subscribe({
		next: (event) => replayed.push(event),
		complete() {
			completed = true;
		},
	});
	scheduler.flush();
	invariant(
		completed && replayed.length === events.length,
		`${replayed.length} of ${events.length} events replayed`,
	);
	invariant(
		replayed.every((event, index) => event === events[index]),
		'in their recorded order',
	);
	// The recorded gaps, at the chosen speed; a time going back is no gap at all.
	const waited = events.reduce(
		(sum, event, index) => sum + Math.max(0, event.at - (events[index - 1]?.at ?? event.at)),
		0,
	);
	invariant(scheduler.frame <= waited / speed + 1, `replay took ${scheduler.frame} for gaps of ${waited}`);
}

test('history log: a valid log reads as its last run, which replays event for event', async (t) => {
	const file = await logFile(t);
	await holdsAsync(
		t,
		fc.asyncProperty(recordedRuns, fc.constantFrom(1, 10, 0.5), async (events, speed) => {
			const outcome = await read(file, logText(events));
			invariant(outcome.ok, 'a valid log reads');
			const lastStart = events.findLastIndex((event) => event.type === 'started');
			invariant(JSON.stringify(outcome.value) === JSON.stringify(events.slice(lastStart)), 'the last run');
			replayInVirtualTime(outcome.value, speed);
		}),
		runs,
	);
});

test('history log: a damaged log reads as a run of events or throws a TorrentRxError; a run with finite times replays', async (t) => {
	const file = await logFile(t);
	await holdsAsync(
		t,
		fc.asyncProperty(damagedLog, async (text) => {
			const outcome = await read(file, text);
			// `at` of 1e400 parses as Infinity: Node fires such a timer at once, virtual time never.
			if (outcome.ok && outcome.value.every((event) => Number.isFinite(event.at))) {
				replayInVirtualTime(outcome.value, 1);
			}
		}),
		runs,
	);
});

/** What `--replay` does with the events: fold them into the run state and draw each state. */
function show(events: readonly TimedEvent[]): void {
	let state = initialRunState;
	for (const event of events) {
		state = reduceRunState(state, event);
		snapshot(state);
		statusLine(state);
	}
}

test('history log: the events of a valid log fold into states the views can draw', async (t) => {
	const file = await logFile(t);
	await holdsAsync(
		t,
		fc.asyncProperty(recordedRuns, async (events) => {
			const outcome = await read(file, logText(events));
			invariant(outcome.ok, 'a valid log reads');
			show(outcome.value);
		}),
		runs,
	);
});

// Regression: readLastRun once checked only `type` and `at`, so an event without the fields of
// its type reached the reducer and `--replay` died of a TypeError (an announce-answered without
// peers, a peer-connected without peerId). Each event's fields are now checked when read.
test('history log: the events of a damaged log are refused (TorrentRxError) or fold into drawable states', async (t) => {
	const file = await logFile(t);
	await holdsAsync(
		t,
		fc.asyncProperty(damagedLog, async (text) => {
			const outcome = await read(file, text);
			if (outcome.ok) {
				show(outcome.value);
			}
		}),
		runs,
	);
});

test('history log: an announce-answered event without its peers is refused when read, or shown', async (t) => {
	const file = await logFile(t);
	await writeFile(file, '{"type":"started","at":0}\n{"type":"announce-answered","at":1}\n');
	const result = await readLastRun(file).then(
		(events) => {
			try {
				show(events);
				return 'shown';
			} catch (error) {
				return error;
			}
		},
		(error: unknown) => (error instanceof TorrentRxError ? 'refused' : error),
	);
	t.true(result === 'shown' || result === 'refused', String(result));
});
