import test from 'ava';
import {filter, from, lastValueFrom, type Observable, type SchedulerLike, throwError, toArray} from 'rxjs';
import {Bitfield} from '../../source/codec/bitfield.js';
import type {FileEntry} from '../../source/codec/metainfo.js';
import type {RunEvent} from '../../source/events/events.js';
import {StorageLayout} from '../../source/storage/layout.js';
import {verifyAndStore} from '../../source/verify/verify-and-store.js';
import {type WebSeedPort, webSeed} from '../../source/webseed/web-seed.js';
import type {FileRange} from '../../source/webseed/web-seed-ranges.js';
import {makeTorrent, memoryStore} from '../helpers/fake-peer.js';
import {testScheduler} from '../helpers/marbles.js';
import {swarmContext, verifierFor} from '../helpers/swarm-context.js';

const pieceLength = 32 * 1024;
/** Ten pieces and a short last one, over three files: a (0..100,000), b (100,000..250,000), c (250,000..340,000). */
const torrent = makeTorrent(340_000, pieceLength);
const files: FileEntry[] = [
	{path: ['t', 'a'], length: 100_000, offset: 0},
	{path: ['t', 'b'], length: 150_000, offset: 100_000},
	{path: ['t', 'c'], length: 90_000, offset: 250_000},
];
const layout = new StorageLayout(files, pieceLength);

/** A web seed that serves the payload's files, in chunks of `chunk` bytes, and records each range asked for. */
function servingSeed(chunk = 7000, fail?: (range: FileRange, call: number) => Error | undefined) {
	const asked: FileRange[] = [];
	const port: WebSeedPort = {
		seed: 'http://127.0.0.1:8080/t/',
		fetch(range) {
			asked.push(range);
			const failure = fail?.(range, asked.length);
			if (failure) {
				return throwError(() => failure);
			}

			const file = files[range.fileIndex];
			const start = (file?.offset ?? 0) + range.start;
			const bytes = torrent.payload.subarray(start, (file?.offset ?? 0) + range.end + 1);
			const chunks: Buffer[] = [];
			for (let at = 0; at < bytes.length; at += chunk) {
				chunks.push(bytes.subarray(at, at + chunk));
			}

			return from(chunks);
		},
	};
	return {port, asked};
}

function run(
	port: WebSeedPort,
	options: {
		runBytes?: number;
		runsInFlight?: number;
		maxFailures?: number;
		retryDelayMs?: number;
		scheduler?: SchedulerLike;
	} = {},
) {
	const context = swarmContext(torrent);
	const store = memoryStore(pieceLength, torrent.payload.length);
	const ports = {verifyPiece: verifierFor(torrent), store};
	const events$: Observable<RunEvent> = webSeed(
		port,
		{
			layout,
			picker: context.shared.picker,
			verify: (piece) => verifyAndStore(piece, port.seed, ports, context),
		},
		{
			runBytes: options.runBytes ?? 4 * pieceLength,
			runSeconds: 2,
			runsInFlight: options.runsInFlight ?? 2,
			retryDelayMs: options.retryDelayMs ?? 1,
			maxFailures: options.maxFailures ?? 3,
			...(options.scheduler ? {scheduler: options.scheduler} : {}),
		},
	);
	return {events$, store, picker: context.shared.picker};
}

test('a web seed alone downloads every piece, in runs of consecutive pieces, a range per file a run crosses', async (t) => {
	const {port, asked} = servingSeed();
	const {events$, store, picker} = run(port);
	const events = await lastValueFrom(events$.pipe(toArray()));
	t.true(picker.complete);
	t.true(store.data.equals(torrent.payload));
	t.is(events.filter((event) => event.type === 'web-seed-connected').length, 1);
	const verified = events.filter((event) => event.type === 'piece-verified');
	t.is(verified.length, torrent.pieces.length);
	t.true(verified.every((event) => event.type === 'piece-verified' && event.peer === port.seed));
	t.is(events.filter((event) => event.type === 'completed').length, 1);
	// Eleven pieces in runs of at most four: three runs, each one range per file it touches.
	t.true(asked.length <= 3 + files.length - 1 + 2, `${asked.length} ranges`);
	const bytesAsked = asked.reduce((sum, range) => sum + range.end - range.start + 1, 0);
	t.is(bytesAsked, torrent.payload.length, 'every byte asked for once');
});

test('a failure that may pass is retried with its reason in the events; the download completes', async (t) => {
	const reset = Object.assign(new Error('the connection was reset'), {retryable: true});
	const {port} = servingSeed(7000, (_range, call) => (call === 1 ? reset : undefined));
	const {events$, store, picker} = run(port, {runsInFlight: 1});
	const events = await lastValueFrom(events$.pipe(toArray()));
	t.true(picker.complete);
	t.true(store.data.equals(torrent.payload));
	t.like(
		events.find((event) => event.type === 'web-seed-failed'),
		{seed: port.seed, reason: 'the connection was reset', retryInMs: 1},
	);
});

test('runs in flight that fail at once are one failure of the seed: retried together after the same delay, doubling per outage, dropped after maxFailures outages', (t) => {
	const scheduler = testScheduler(t);
	scheduler.run(({expectObservable}) => {
		const reset = Object.assign(new Error('the connection was reset'), {retryable: true});
		const port: WebSeedPort = {seed: 'http://down.example/t/', fetch: () => throwError(() => reset)};
		const {events$} = run(port, {runsInFlight: 3, maxFailures: 3, retryDelayMs: 10, scheduler});
		const failed = (retryInMs?: number): RunEvent => ({
			type: 'web-seed-failed',
			seed: port.seed,
			reason: 'the connection was reset',
			...(retryInMs === undefined ? {} : {retryInMs}),
		});
		// Three runs fail at 0 and are asked again at 10; they fail again and wait 20; the third outage drops the seed.
		expectObservable(events$.pipe(filter((event) => event.type === 'web-seed-failed'))).toBe(
			'(abc) 5ms (def) 15ms (g|)',
			{a: failed(10), b: failed(10), c: failed(10), d: failed(20), e: failed(20), f: failed(20), g: failed()},
		);
	});
});

test('a failure that will not pass drops the seed, its pieces given back to the picker', async (t) => {
	const notFound = Object.assign(new Error('404 Not Found'), {retryable: false});
	const {port} = servingSeed(7000, (range) => (range.fileIndex === 1 ? notFound : undefined));
	const {events$, picker} = run(port, {runsInFlight: 1});
	const events = await lastValueFrom(events$.pipe(toArray()));
	t.false(picker.complete);
	const failed = events.filter((event) => event.type === 'web-seed-failed');
	t.deepEqual(failed, [{type: 'web-seed-failed', seed: port.seed, reason: '404 Not Found'}]);
	t.is(picker.bytesInFlight, 0, 'nothing is left claimed by the dropped seed');
});

test('a seed whose data fails the hash gets strikes and is dropped as a peer is', async (t) => {
	const liar: WebSeedPort = {
		seed: 'http://liar.example/t/',
		fetch: (range) => from([Buffer.alloc(range.end - range.start + 1, 0x55)]),
	};
	const {events$, picker} = run(liar, {runsInFlight: 1, runBytes: pieceLength});
	const events = await lastValueFrom(events$.pipe(toArray()));
	t.false(picker.complete);
	t.is(events.filter((event) => event.type === 'piece-failed').length, 3);
	t.like(events.at(-1), {type: 'web-seed-failed', seed: liar.seed});
	t.is(picker.bytesInFlight, 0);
});

test('in endgame the seed asks for blocks a slow peer holds, and its copies complete the pieces', async (t) => {
	const {port, asked} = servingSeed();
	const {events$, store, picker} = run(port, {runsInFlight: 1});
	// A peer that started every piece and asked for every block, and sends nothing.
	const everyPiece = new Bitfield(picker.pieceCount);
	for (let index = 0; index < picker.pieceCount; index++) {
		everyPiece.set(index);
	}

	for (let piece = picker.pick(everyPiece); piece; piece = picker.pick(everyPiece)) {
		while (piece.claimBlock() >= 0) {
			// Asked of the slow peer.
		}
	}

	t.true(picker.endgame);
	const events = await lastValueFrom(events$.pipe(toArray()));
	t.true(picker.complete);
	t.true(store.data.equals(torrent.payload));
	t.is(events.filter((event) => event.type === 'piece-verified').length, torrent.pieces.length);
	// A block at a time: no range is longer than a block.
	t.true(asked.every((range) => range.end - range.start + 1 <= 16 * 1024));
});

test('a 404 for one file marks it missing on that seed: the pieces of the others are still asked of it', async (t) => {
	const notFound = Object.assign(new Error('HTTP 404: no such file on the web seed'), {kind: 'not-found'});
	const {port, asked} = servingSeed(7000, (range) => (range.fileIndex === 1 ? notFound : undefined));
	const {events$, store, picker} = run(port, {runsInFlight: 1, runBytes: pieceLength});
	const events = await lastValueFrom(events$.pipe(toArray()));
	const failures = events.filter((event) => event.type === 'web-seed-failed');
	t.like(failures[0], {
		retryInMs: 0,
		reason: 'HTTP 404: no such file on the web seed; its other files are still asked of it',
	});
	t.like(failures.at(-1), {reason: 'it has none of the pieces still wanted'});
	t.is(failures.at(-1)?.type === 'web-seed-failed' ? failures.at(-1)?.retryInMs : 0, undefined);
	// b is 100,000..250,000: pieces 3 to 7 hold its bytes; the others came from the seed.
	const verified = events.flatMap((event) => (event.type === 'piece-verified' ? [event.index] : []));
	t.deepEqual(
		verified.sort((a, b) => a - b),
		[0, 1, 2, 8, 9, 10],
	);
	t.true(store.data.subarray(0, 3 * pieceLength).equals(torrent.payload.subarray(0, 3 * pieceLength)));
	t.false(picker.complete);
	t.is(picker.bytesInFlight, 0);
	t.true(asked.filter((range) => range.fileIndex === 1).length >= 1);
});
