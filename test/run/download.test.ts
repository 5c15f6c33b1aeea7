/**
 * The whole run, `download()`, through its ports in virtual time: a tracker that answers with
 * peers, scripted peers behind `ConnectPort`, a store in memory, a recording resume store. What
 * it emits, what the tracker hears and when, when the resume file is saved, when it ends, and
 * that letting go of it lets go of every port.
 *
 * The read cache is off (`readCacheBytes: 0`): it reads through Promises, which do not settle
 * inside a synchronous virtual-time flush; without it a block is read from the store at once.
 */
import test, {type ExecutionContext} from 'ava';
import {asyncScheduler, type Observable, takeUntil, timer} from 'rxjs';
import type {HotObservable} from 'rxjs/internal/testing/HotObservable';
import type {RunHelpers} from 'rxjs/testing';
import {defaultWindowOptions} from '../../source/download/request-window.js';
import type {RunEvent} from '../../source/events/events.js';
import {hashOnMainThread} from '../../source/hashing/sha1.js';
import type {IncomingPeer} from '../../source/peer/listener.js';
import {type DownloadOptions, download, type SeedOptions} from '../../source/run/download.js';
import type {PieceStore} from '../../source/storage/disk.js';
import type {WebSeedPort} from '../../source/webseed/web-seed.js';
import {
	type AnnounceLog,
	fakePeers,
	fakeTracker,
	leecher,
	metainfoOf,
	type ResumeSave,
	recordingResume,
} from '../helpers/download-ports.js';
import {makeTorrent, memoryStore} from '../helpers/fake-peer.js';
import {type HostileScript, script} from '../helpers/hostile-peer.js';
import {testScheduler} from '../helpers/marbles.js';

/** Four pieces of 32 KiB, two blocks each. */
const torrent = makeTorrent(4 * 32 * 1024, 32 * 1024);
const totalLength = torrent.payload.length;

const options: DownloadOptions = {
	peerId: Buffer.from('-RX0001-000000000000'),
	port: 6889,
	maxPeers: 10,
	redialDelayMs: 2000,
	maxRedials: 0,
	maxBytesInFlight: 1 << 20,
	window: defaultWindowOptions,
	tickMs: 1000,
	handshakeTimeoutMs: 10_000,
	maxStrikes: 3,
	uploadSlots: 4,
	chokeRoundMs: 10_000,
	maxQueuedRequests: 100,
	readCacheBytes: 0,
	announceTimeoutMs: 120_000,
	announceRetryMs: 15_000,
	starvingReannounceMs: 30_000,
	numwant: 50,
	trackerTiers: [['http://127.0.0.1/announce']],
};

/** A seed that answers the blocks of piece `n` 1.5 s × (n + 1) after they are asked: one piece every 1.5 s. */
const slowSeed = script({
	request: (wire, request) => wire.later(1500 * (request.index + 1), () => wire.answer(request)),
});

type Setup = {
	/** The peers the tracker names, at 127.0.0.2, 127.0.0.3, … */
	peers: HostileScript[];
	seed?: SeedOptions;
	/** What the resume file says (absent: no resume file at all; `[]` one that says nothing). */
	resume?: number[] | 'empty';
	/** Pieces already in the files: the store says they were there, so they are checked. */
	onDisk?: number[];
	/** Let go of the run then, if it has not ended. */
	unsubscribeAt?: number;
	/** The torrent has a link (BEP 47) too, which the port skips for this reason after 10 ms. */
	linkSkipped?: string;
	/** A web seed (BEP 19) that answers each range this long after it is asked. */
	webSeedAnswerMs?: number;
};

type Ports = {
	store$: ReturnType<RunHelpers['cold']>;
	/** No peer calls us; its subscription shows how long the run listened. */
	incoming$: HotObservable<IncomingPeer>;
	tracker: ReturnType<typeof fakeTracker>;
	peers: ReturnType<typeof fakePeers>;
};

type Outcome = {
	/** `<ms> <type> <what>` for every event but `uploaded` (counted in `uploaded`). */
	events: string[];
	uploaded: number;
	endedAt: number | undefined;
	announces: AnnounceLog[];
	saves: ResumeSave[];
};

const short = (peer: string) => peer.replace(/^127\.0\.0\.(\d+):6881$/, 'peer $1');

function label(event: RunEvent): string {
	switch (event.type) {
		case 'announce-sent':
		case 'announce-answered':
			return `${event.type} ${event.event}`;
		case 'piece-started':
			// Which piece comes first is the picker's random choice: the count is what is certain.
			return `${event.type} ${short(event.peer)}`;
		case 'piece-verified':
			return `${event.type} ${event.index} ${short(event.peer)}`;
		case 'peer-disconnected':
			return `${event.type} ${short(event.peer)}: ${event.reason}`;
		case 'peer-connecting':
		case 'peer-connected':
		case 'peer-unchoked':
		case 'peer-choked':
			return `${event.type} ${short(event.peer)}`;
		case 'checked':
			return `checked ${event.pieces}/${event.total}${event.fromResumeFile ? ' from the resume file' : ''}`;
		case 'completed':
			return `completed ${event.bytes}`;
		case 'link-skipped':
			return `link-skipped ${event.path}: ${event.reason}`;
		case 'web-seed-connected':
			return `${event.type} ${event.seed}`;
		default:
			return event.type;
	}
}

/** A web seed of the one-file torrent that answers each range `answerMs` after it is asked, in one chunk. */
function answeringSeed({cold}: RunHelpers, answerMs: number): WebSeedPort {
	return {
		seed: 'http://127.0.0.1:8080/test',
		fetch: (range) => cold(`${answerMs}ms (a|)`, {a: torrent.payload.subarray(range.start, range.end + 1)}),
	};
}

/**
 * Runs `download()` in virtual time with the ports `setup` describes; `expect` may add
 * subscription expectations on the ports before the flush.
 */
function runDownload(
	t: ExecutionContext,
	setup: Setup,
	expect: (ports: Ports, helpers: RunHelpers) => void = () => undefined,
): Outcome {
	const outcome: Outcome = {events: [], uploaded: 0, endedAt: undefined, announces: [], saves: []};
	testScheduler(t).run((helpers) => {
		const peers = fakePeers(helpers, torrent, setup.peers);
		const tracker = fakeTracker(helpers, {peers: peers.addresses});
		const store = memoryStore(torrent.pieceLength, totalLength);
		const onDisk = setup.onDisk ?? [];
		for (const index of onDisk) {
			torrent.pieces[index]?.copy(store.data, index * torrent.pieceLength);
		}

		const opened: PieceStore = {...store, preexisting: [onDisk.length > 0]};
		// A resource: it emits the open store and never completes; unsubscribing closes it.
		const store$ = helpers.cold('a', {a: opened});
		const incoming$ = helpers.hot<IncomingPeer>('-');
		const resume =
			setup.resume === undefined
				? undefined
				: recordingResume(torrent.pieces.length, setup.resume === 'empty' ? undefined : setup.resume);
		const metainfo = metainfoOf(torrent);
		const link = {path: ['test', 'link'], length: 0, offset: totalLength, symlinkTarget: ['..']};
		const {linkSkipped, webSeedAnswerMs: answerMs} = setup;
		let run$: Observable<RunEvent> = download(
			linkSkipped ? {...metainfo, files: [...metainfo.files, link]} : metainfo,
			{
				announce: tracker,
				connect: peers.connect,
				hashPiece: hashOnMainThread,
				hashStoredPiece: hashOnMainThread,
				openStore: () => store$,
				incoming$,
				...(resume ? {openResume: () => resume} : {}),
				...(answerMs === undefined
					? {}
					: {openWebSeeds: () => helpers.cold('a', {a: [answeringSeed(helpers, answerMs)]})}),
				...(linkSkipped
					? {
							makeLinks: () =>
								helpers.cold('10ms (a|)', {a: [{path: 'test/link', target: 'test/..', reason: linkSkipped}]}),
						}
					: {}),
			},
			{
				...options,
				...(setup.seed ? {seed: setup.seed} : {}),
				webSeeds: {
					runBytes: 2 * torrent.pieceLength,
					runSeconds: 2,
					runsInFlight: 1,
					retryDelayMs: 1000,
					maxFailures: 3,
				},
			},
		);
		if (setup.unsubscribeAt !== undefined) {
			run$ = run$.pipe(takeUntil(timer(setup.unsubscribeAt)));
		}

		run$.subscribe({
			next(event) {
				if (event.type === 'uploaded') {
					outcome.uploaded += event.bytes;
				} else {
					outcome.events.push(`${asyncScheduler.now()} ${label(event)}`);
				}
			},
			complete: () => {
				outcome.endedAt = asyncScheduler.now();
			},
		});
		expect({store$, incoming$, tracker, peers}, helpers);
		helpers.flush();
		outcome.announces = tracker.announces;
		outcome.saves = resume?.saves ?? [];
	});
	return outcome;
}

const peer2 = (n: number) => Array.from({length: n}, () => 'piece-started peer 2');

test('a download from one seed: started, the tracker, the peer, each piece, completed; saves on the way; then it lets go of everything', (t) => {
	const outcome = runDownload(
		t,
		{peers: [slowSeed], resume: 'empty'},
		({store$, incoming$, tracker, peers}, {expectSubscriptions}) => {
			expectSubscriptions(store$.subscriptions).toBe('^ 6005ms !');
			expectSubscriptions(incoming$.subscriptions).toBe('^ 6003ms !');
			// Complete, the run lets go of its peers at once; of the store once the tracker has heard it.
			expectSubscriptions(peers.lifetime(0).subscriptions).toBe('--^ 6001ms !');
			// Each answer is awaited; the `stopped` one is sent on the way out and not waited for.
			expectSubscriptions(tracker.answer.subscriptions).toBe(['^-!', '6004ms ^-!', '6006ms ^-!']);
		},
	);
	t.deepEqual(outcome.events, [
		'0 started',
		'0 announce-sent started',
		'2 announce-answered started',
		'2 peer-connecting peer 2',
		'3 peer-connected peer 2',
		'3 peer-unchoked peer 2',
		...peer2(4).map((line) => `3 ${line}`),
		'1504 piece-verified 0 peer 2',
		'3004 piece-verified 1 peer 2',
		'4504 piece-verified 2 peer 2',
		'6004 piece-verified 3 peer 2',
		'6004 announce-sent completed',
		'6004 completed 131072',
		'6006 announce-answered completed',
	]);
	t.is(outcome.endedAt, 6006, 'it ends once the tracker has heard `completed`');
	t.deepEqual(outcome.announces, [
		{at: 0, event: 'started', uploaded: 0, downloaded: 0, left: totalLength},
		{at: 6004, event: 'completed', uploaded: 0, downloaded: totalLength, left: 0},
		{at: 6006, event: 'stopped', uploaded: 0, downloaded: totalLength, left: 0},
	]);
	t.deepEqual(outcome.saves, [
		// 2 s after the first verified piece, with what was verified by then.
		{at: 3504, pieces: [0, 1]},
		// The next would have come at 6504: completion ends them, and the final save follows the run.
		{at: 6006, pieces: [0, 1, 2, 3]},
	]);
});

test('a run let go of early sends `stopped`, saves the resume file on its way out, and closes the connection and the store', (t) => {
	const outcome = runDownload(
		t,
		{peers: [slowSeed], resume: 'empty', unsubscribeAt: 2500},
		({store$, incoming$, tracker, peers}, {expectSubscriptions}) => {
			expectSubscriptions(store$.subscriptions).toBe('^ 2499ms !');
			expectSubscriptions(incoming$.subscriptions).toBe('^ 2499ms !');
			expectSubscriptions(peers.lifetime(0).subscriptions).toBe('--^ 2497ms !');
			expectSubscriptions(tracker.answer.subscriptions).toBe(['^-!', '2500ms ^-!']);
		},
	);
	t.deepEqual(outcome.events.at(-1), '1504 piece-verified 0 peer 2');
	t.deepEqual(outcome.announces, [
		{at: 0, event: 'started', uploaded: 0, downloaded: 0, left: totalLength},
		{at: 2500, event: 'stopped', uploaded: 0, downloaded: 32 * 1024, left: totalLength - 32 * 1024},
	]);
	// The regular save was due at 3504; the one on the way out records piece 0.
	t.deepEqual(outcome.saves, [{at: 2500, pieces: [0]}]);
});

test('seeding for a time: `seeding` follows `completed`, the tracker keeps going, and the run ends when the time is up', (t) => {
	const outcome = runDownload(
		t,
		{peers: [slowSeed], resume: 'empty', seed: {timeMs: 5000}},
		({store$, peers}, {expectSubscriptions}) => {
			expectSubscriptions(store$.subscriptions).toBe('^ 11003ms !');
			// Both sides have every piece: the seed is dropped a tick after completion.
			expectSubscriptions(peers.lifetime(0).subscriptions).toBe('--^ 7000ms !');
		},
	);
	t.deepEqual(outcome.events.slice(-5), [
		'6004 announce-sent completed',
		'6004 completed 131072',
		'6004 seeding',
		'6006 announce-answered completed',
		'7003 peer-disconnected peer 2: both sides have every piece',
	]);
	t.is(outcome.endedAt, 6004 + 5000);
	t.deepEqual(
		outcome.announces.map(({at, event}) => [at, event]),
		[
			[0, 'started'],
			[6004, 'completed'],
			[11_004, 'stopped'],
		],
	);
	t.deepEqual(outcome.saves, [
		{at: 3504, pieces: [0, 1]},
		{at: 11_004, pieces: [0, 1, 2, 3]},
	]);
});

// The leecher alone: the ratio ends the run on the asap scheduler, and when two timers fall due
// in that same virtual moment (two sessions' ticks), rxjs 7's run mode hands the asap task to
// the wrong timer's turn and throws 'Expected a due immediate or interval'.
test('a torrent complete on the resume file seeds to a leecher until the ratio is reached; the tracker never hears `completed`', (t) => {
	const outcome = runDownload(
		t,
		{peers: [leecher], resume: [0, 1, 2, 3], seed: {ratio: 1}},
		({store$, tracker, peers}, {expectSubscriptions}) => {
			expectSubscriptions(store$.subscriptions).toBe('^ 1002ms !');
			expectSubscriptions(peers.lifetime(0).subscriptions).toBe('--^ 1000ms !');
			expectSubscriptions(tracker.answer.subscriptions).toBe(['^-!', '1003ms ^-!']);
		},
	);
	t.deepEqual(outcome.events, [
		'0 started',
		'0 checked 4/4 from the resume file',
		'0 announce-sent started',
		'0 completed 131072',
		'0 seeding',
		'2 announce-answered started',
		'2 peer-connecting peer 2',
		'3 peer-connected peer 2',
	]);
	// The leecher took every block at once; the first `uploaded` report (the session's tick) crosses the ratio.
	t.is(outcome.uploaded, totalLength);
	t.is(outcome.endedAt, 1003);
	t.deepEqual(outcome.announces, [
		// Complete before the tracker answered `started`: `completed` would tell it nothing new.
		{at: 0, event: 'started', uploaded: 0, downloaded: 0, left: 0},
		{at: 1003, event: 'stopped', uploaded: totalLength, downloaded: 0, left: 0},
	]);
	t.deepEqual(outcome.saves, [{at: 1003, pieces: [0, 1, 2, 3]}]);
});

test('a torrent whose files hold every piece is checked and complete at once; without seeding the run ends there', (t) => {
	const outcome = runDownload(
		t,
		{peers: [slowSeed], onDisk: [0, 1, 2, 3]},
		({store$, tracker, peers}, {expectSubscriptions}) => {
			expectSubscriptions(store$.subscriptions).toBe('^ 249ms !');
			// Cut off by the completion in the same moment: the tracker never answers, so no `stopped` either.
			expectSubscriptions(tracker.answer.subscriptions).toBe('250ms (^!)');
			expectSubscriptions(peers.lifetime(0).subscriptions).toBe([]);
		},
	);
	t.deepEqual(outcome.events, [
		'0 started',
		'0 checking',
		'250 checking',
		'250 checked 4/4',
		'250 announce-sent started',
		'250 completed 131072',
	]);
	t.is(outcome.endedAt, 250);
	t.deepEqual(outcome.announces, [{at: 250, event: 'started', uploaded: 0, downloaded: 0, left: 0}]);
});

test('the links are made after `started`, before the check; one skipped is an event, and the run goes on', (t) => {
	const outcome = runDownload(t, {peers: [slowSeed], onDisk: [0, 1, 2, 3], linkSkipped: 'outside'});
	t.deepEqual(outcome.events.slice(0, 4), [
		'0 started',
		'10 link-skipped test/link: outside',
		'10 checking',
		'260 checking',
	]);
	t.is(outcome.events.at(-1), '260 completed 131072');
});

test('pieces found in the files are not downloaded again, and count as neither `downloaded` nor `left`', (t) => {
	const outcome = runDownload(t, {peers: [slowSeed], onDisk: [0, 1]}, ({peers}, {expectSubscriptions}) => {
		expectSubscriptions(peers.lifetime(0).subscriptions).toBe('252ms ^ 6001ms !');
	});
	t.deepEqual(
		outcome.events.filter((line) => /checked|piece-|^\d+ completed/.test(line)),
		[
			'250 checked 2/4',
			...peer2(2).map((line) => `253 ${line}`),
			'4754 piece-verified 2 peer 2',
			'6254 piece-verified 3 peer 2',
			'6254 completed 131072',
		],
	);
	const half = totalLength / 2;
	t.deepEqual(outcome.announces, [
		{at: 250, event: 'started', uploaded: 0, downloaded: 0, left: half},
		{at: 6254, event: 'completed', uploaded: 0, downloaded: half, left: 0},
		{at: 6256, event: 'stopped', uploaded: 0, downloaded: half, left: 0},
	]);
});

test('a torrent whose only source is its web seed: the seed takes runs of pieces, and the run completes and ends', (t) => {
	const outcome = runDownload(t, {peers: [], webSeedAnswerMs: 100});
	const seed = 'http://127.0.0.1:8080/test';
	t.deepEqual(outcome.events.slice(0, 4), [
		'0 started',
		'0 announce-sent started',
		'2 announce-answered started',
		`100 web-seed-connected ${seed}`,
	]);
	// One run in flight, each answered 100 ms after it is asked: the first of one piece (the seed's
	// rate is not known yet), then runs of at most two; the picker's first picks start at random
	// places, so the second run may stop at a piece already done: three runs or four.
	const verified = outcome.events.filter((line) => line.includes('piece-verified'));
	t.deepEqual(verified.map((line) => line.split(' ')[2]).sort(), ['0', '1', '2', '3']);
	t.true(verified.every((line) => line.endsWith(seed)));
	const last = Number(verified.at(-1)?.split(' ')[0]);
	t.true(last === 300 || last === 400, verified.join(', '));
	t.deepEqual(outcome.events.slice(-3), [
		`${last} announce-sent completed`,
		`${last} completed 131072`,
		`${last + 2} announce-answered completed`,
	]);
	t.is(outcome.endedAt, last + 2);
});
