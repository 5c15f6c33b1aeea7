import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import path from 'node:path';
import test from 'ava';
import {from, lastValueFrom, toArray} from 'rxjs';
import {TorrentRxError} from '../../source/errors.js';
import type {TimedEvent} from '../../source/events/events.js';
import {HistoryWriter, readLastRun, recordHistory} from '../../source/events/history-log.js';
import {initialRunState, reduceRunState} from '../../source/events/run-state.js';

async function folder(t: {teardown(fn: () => Promise<void>): void}) {
	const dir = await mkdtemp(path.join(tmpdir(), 'torrent-rx-history-'));
	t.teardown(async () => rm(dir, {recursive: true, force: true}));
	return dir;
}

const run = (name: string, at: number): TimedEvent[] => [
	{type: 'started', name, infoHash: 'ab', pieceCount: 1, pieceLength: 16, totalLength: 16, at},
	{type: 'piece-verified', peer: 'p', index: 0, bytes: 16, at: at + 5},
	{type: 'completed', bytes: 16, at: at + 6},
];

test('records each event as one JSON line, appending, and passes the events on', async (t) => {
	const file = path.join(await folder(t), 'nested', 'history.log');
	const passed = await lastValueFrom(from(run('first', 100)).pipe(recordHistory(file), toArray()));
	t.deepEqual(passed, run('first', 100));
	await lastValueFrom(from(run('second', 200)).pipe(recordHistory(file), toArray()));
	const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
	t.is(lines.length, 6);
	t.deepEqual(JSON.parse(lines[3] ?? ''), run('second', 200)[0]);
});

test('reads back the last run of a log that holds several', async (t) => {
	const file = path.join(await folder(t), 'history.log');
	await writeFile(
		file,
		[...run('first', 100), ...run('second', 200)].map((event) => JSON.stringify(event)).join('\n'),
	);
	t.deepEqual(await readLastRun(file), run('second', 200));
});

test('a line that is not an event is a clear error, naming the line', async (t) => {
	const file = path.join(await folder(t), 'history.log');
	await writeFile(file, `${JSON.stringify(run('x', 1)[0])}\n{"type":"completed"}\n`);
	await t.throwsAsync(readLastRun(file), {
		instanceOf: TorrentRxError,
		message: /line 2 is not a recorded event/,
	});
});

test('a `link-skipped` line (BEP 47) is read back with its count; one without its reason is refused', async (t) => {
	const dir = await folder(t);
	const [started] = run('x', 1);
	const skipped: TimedEvent = {
		type: 'link-skipped',
		path: 'x/l',
		target: 'x/../etc',
		reason: "its target is outside the torrent's folder",
		omitted: 3,
		at: 2,
	};
	await writeFile(
		path.join(dir, 'good.log'),
		[started, skipped].map((event) => JSON.stringify(event)).join('\n'),
	);
	t.deepEqual(await readLastRun(path.join(dir, 'good.log')), [started, skipped]);
	const {reason: _, ...unexplained} = skipped;
	await writeFile(
		path.join(dir, 'bad.log'),
		[started, unexplained].map((event) => JSON.stringify(event)).join('\n'),
	);
	await t.throwsAsync(readLastRun(path.join(dir, 'bad.log')), {
		message: /line 2 .*link-skipped event with no reason/,
	});
});

test('a log without a run, or no log at all, is a clear error', async (t) => {
	const dir = await folder(t);
	await writeFile(path.join(dir, 'empty.log'), '\n');
	await t.throwsAsync(readLastRun(path.join(dir, 'empty.log')), {message: /holds no recorded run/});
	await t.throwsAsync(readLastRun(path.join(dir, 'missing.log')), {message: /cannot read the history log/});
});

const flapping = (count: number, at: number): TimedEvent[] =>
	Array.from({length: count}, (_, index) => ({
		type: index % 2 === 0 ? ('peer-choked' as const) : ('peer-unchoked' as const),
		peer: '10.0.0.9:6881',
		at: at + index,
	}));

test('a peer flapping choke/unchoke gets a bounded number of lines; the replay ends in its last state', async (t) => {
	const file = path.join(await folder(t), 'history.log');
	const [started] = run('flap', 0);
	const events: TimedEvent[] = [
		started as TimedEvent,
		{type: 'peer-connected', peer: '10.0.0.9:6881', peerId: '-TR4060-000000000000', at: 1},
		...flapping(20_001, 2),
		{type: 'completed', bytes: 16, at: 30_000},
	];
	await lastValueFrom(from(events).pipe(recordHistory(file), toArray()));
	const lines = (await readFile(file, 'utf8')).trimEnd().split('\n');
	t.true(lines.length < 100, `${lines.length} lines`);
	t.true(lines.some((line) => line.includes('"type":"log-dropped"') && line.includes('"peer-choked":9971')));
	const replayed = await readLastRun(file);
	const state = replayed.reduce(reduceRunState, initialRunState);
	// The last of the 20,001 events is a choke.
	t.is(state.peers.get('10.0.0.9:6881')?.status, 'choked');
	t.is(state.phase, 'completed');
});

test('a tracker reply of 1000 addresses is logged with a few and a count; the replay shows all 1000', async (t) => {
	const file = path.join(await folder(t), 'history.log');
	const peers = Array.from({length: 1000}, (_, index) => ({
		host: `10.1.${index >> 8}.${index & 255}`,
		port: 6881,
	}));
	const [started] = run('many', 0);
	const events: TimedEvent[] = [
		started as TimedEvent,
		{
			type: 'announce-answered',
			tracker: 'http://t.example/announce',
			event: 'started',
			peers,
			interval: 1800,
			at: 1,
		},
		{type: 'peers-found', source: 'pex', from: '10.0.0.9:6881', peers, at: 2},
	];
	await lastValueFrom(from(events).pipe(recordHistory(file), toArray()));
	const text = await readFile(file, 'utf8');
	t.true(text.length < 2000, `${text.length} characters`);
	const state = (await readLastRun(file)).reduce(reduceRunState, initialRunState);
	t.deepEqual(state.tracker, {host: 't.example', peers: 1000});
});

/** A sink whose buffer is full until `drain()`: what a disk that does not keep up looks like. */
function slowSink() {
	const writes: string[] = [];
	let onDrain: (() => void) | undefined;
	return {
		writes,
		write(chunk: string) {
			writes.push(chunk);
			return false;
		},
		once(_event: 'drain', listener: () => void) {
			onDrain = listener;
		},
		end(callback?: () => void) {
			callback?.();
		},
		drain() {
			const listener = onDrain;
			onDrain = undefined;
			listener?.();
		},
	};
}

const tick = () => new Promise((resolve) => setImmediate(resolve));

test('writes are coalesced, wait for drain, and under pressure peers are summarised, not queued', async (t) => {
	const sink = slowSink();
	const writer = new HistoryWriter(sink, {
		linesPerPeerPerMinute: 1e9,
		pendingChars: 10_000,
		addressesPerLine: 5,
	});
	for (const event of run('slow', 0)) {
		writer.add(event);
	}

	await tick();
	t.is(sink.writes.length, 1, 'one write for the whole tick');
	t.is(sink.writes[0]?.split('\n').length, 4);
	for (let index = 0; index < 100_000; index++) {
		writer.add({type: 'uploaded', peer: '10.0.0.9:6881', bytes: 10, at: 10 + (index % 1000)});
	}

	await tick();
	t.is(sink.writes.length, 1, 'nothing written before drain');
	sink.drain();
	await tick();
	const written = sink.writes.slice(1).join('');
	t.true(written.length < 20_000, `${written.length} characters held`);
	t.regex(written, /"type":"log-dropped","peer":"10\.0\.0\.9:6881","counts":\{"uploaded":\d+\}/);
	const uploaded = written
		.trimEnd()
		.split('\n')
		.map((line) => JSON.parse(line) as TimedEvent)
		.filter((event) => event.type === 'uploaded')
		.reduce((sum, event) => sum + event.bytes, 0);
	t.is(uploaded, 1_000_000, 'every byte uploaded is still in the log');
	writer.end();
});
