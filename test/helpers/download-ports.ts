/**
 * Fake ports for driving a whole `download()` in virtual time (inside `TestScheduler.run`): a
 * tracker that answers with peers and logs what it was told, scripted peers behind
 * `ConnectPort`, a store in memory, a resume store that records its saves. Each port's
 * lifetime is a cold Observable of its own, so `expectSubscriptions` shows when it was let go.
 */
import {asyncScheduler, merge, NEVER, type Observable, of} from 'rxjs';
import type {ColdObservable} from 'rxjs/internal/testing/ColdObservable';
import type {RunHelpers} from 'rxjs/testing';
import {Bitfield} from '../../source/codec/bitfield.js';
import {type PeerAddress, peerKey} from '../../source/codec/compact-peers.js';
import {blockLength} from '../../source/codec/messages.js';
import type {Metainfo} from '../../source/codec/metainfo.js';
import type {AnnounceResponse} from '../../source/codec/tracker-response.js';
import type {ConnectPort} from '../../source/peer/transport.js';
import type {ResumeStore} from '../../source/storage/resume-file.js';
import type {AnnounceRequest} from '../../source/tracker/announce-request.js';
import type {AnnouncePort} from '../../source/tracker/announcer.js';
import type {makeTorrent} from './fake-peer.js';
import {
	type ConnectionLog,
	type HostileScript,
	type HostileWire,
	hostileConnectPort,
	script,
} from './hostile-peer.js';

type Torrent = ReturnType<typeof makeTorrent>;

/** The metainfo of a one-file torrent made by `makeTorrent`, announced to `trackers`. */
export function metainfoOf(
	torrent: Torrent,
	{trackers = ['http://127.0.0.1/announce'], isPrivate = false} = {},
): Metainfo {
	return {
		infoHash: torrent.infoHash,
		infoBytes: Buffer.from('d4:name4:teste'),
		name: 'test',
		pieceLength: torrent.pieceLength,
		pieceHashes: torrent.pieceHashes,
		files: [{path: ['test'], length: torrent.payload.length, offset: 0}],
		multiFile: false,
		totalLength: torrent.payload.length,
		private: isPrivate,
		announceTiers: trackers.map((url) => [url]),
	};
}

/** One announce as the tracker received it. */
export type AnnounceLog = {
	at: number;
	event: string;
	uploaded: number;
	downloaded: number;
	left: number;
};

/**
 * A tracker that answers every announce `answerMs` later with `peers` and an interval of
 * `intervalS`: one cold Observable, subscribed once per announce, so its subscriptions show
 * which announces were waited for.
 */
export function fakeTracker(
	helpers: Pick<RunHelpers, 'cold'>,
	{peers, intervalS = 1800, answerMs = 2}: {peers: PeerAddress[]; intervalS?: number; answerMs?: number},
): AnnouncePort & {announces: AnnounceLog[]; answer: ColdObservable<AnnounceResponse>} {
	const announces: AnnounceLog[] = [];
	const answer = helpers.cold(`${answerMs}ms (a|)`, {
		a: {interval: intervalS, peers},
	}) as ColdObservable<AnnounceResponse>;
	const announce = (_url: string, request: AnnounceRequest): Observable<AnnounceResponse> => {
		announces.push({
			at: asyncScheduler.now(),
			event: request.event ?? 'regular',
			uploaded: request.uploaded,
			downloaded: request.downloaded,
			left: request.left,
		});
		return answer;
	};

	return Object.assign(announce, {announces, answer});
}

/**
 * Peers behind one `ConnectPort`: peer `n` of `scripts` at 127.0.0.(n + 2):6881. Each peer's
 * connections are kept open by one cold Observable of its own (`lifetime(n)`), subscribed with
 * each connection and let go with it, so its subscriptions are the connections' lifetimes.
 */
export function fakePeers(
	helpers: Pick<RunHelpers, 'cold'>,
	torrent: Torrent,
	scripts: HostileScript[],
): {
	connect: ConnectPort;
	addresses: PeerAddress[];
	logs: (n: number) => ConnectionLog[];
	lifetime: (n: number) => ColdObservable<never>;
} {
	const hostileTorrent = {
		infoHash: torrent.infoHash,
		pieceLength: torrent.pieceLength,
		payload: torrent.payload,
	};
	const peers = scripts.map((behaviour, n) => ({
		address: {host: `127.0.0.${n + 2}`, port: 6881},
		port: hostileConnectPort(hostileTorrent, behaviour),
		lifetime: helpers.cold<never>('-') as ColdObservable<never>,
	}));
	const byKey = new Map(peers.map((peer) => [peerKey(peer.address), peer]));
	const connect: ConnectPort = (address) => {
		const peer = byKey.get(peerKey(address));
		return peer ? merge(peer.port(address), peer.lifetime) : NEVER;
	};

	const peer = (n: number) => {
		const found = peers[n];
		if (!found) {
			throw new RangeError(`no peer ${n}`);
		}

		return found;
	};

	return {
		connect,
		addresses: peers.map(({address}) => address),
		logs: (n) => peer(n).port.connections,
		lifetime: (n) => peer(n).lifetime,
	};
}

/** What a leecher knows of us: the pieces we said we have, which it asked for, and whether it may ask. */
type LeecherState = {held: Set<number>; asked: Set<number>; unchoked: boolean};
const leechers = new WeakMap<HostileWire, LeecherState>();

/** Asks for every block of each piece we hold and it has not asked for yet, while we let it. */
function askForHeld(wire: HostileWire, state: LeecherState): void {
	if (!state.unchoked) {
		return;
	}

	const {pieceLength, payload} = wire.torrent;
	for (const index of state.held) {
		if (state.asked.has(index)) {
			continue;
		}

		state.asked.add(index);
		const size = Math.min(pieceLength, payload.length - index * pieceLength);
		for (let begin = 0; begin < size; begin += blockLength) {
			wire.message({type: 'request', index, begin, length: Math.min(blockLength, size - begin)});
		}
	}
}

/**
 * A peer that has nothing and wants everything: interested at once, it asks for every block of
 * each piece we say we have (bitfield, have-all, have) once we unchoke it, and takes them all.
 */
export const leecher = script({
	handshake(wire) {
		leechers.set(wire, {held: new Set(), asked: new Set(), unchoked: false});
		wire.message({type: 'have-none'}, {type: 'interested'});
	},
	request: () => undefined,
	message(wire, message) {
		const state = leechers.get(wire);
		if (!state) {
			return;
		}

		if (message.type === 'unchoke') {
			state.unchoked = true;
		} else if (message.type === 'choke') {
			state.unchoked = false;
			state.asked.clear();
		} else if (message.type === 'have') {
			state.held.add(message.index);
		} else if (message.type === 'have-all') {
			for (let index = 0; index < wire.pieceCount; index++) {
				state.held.add(index);
			}
		} else if (message.type === 'bitfield') {
			for (let index = 0; index < wire.pieceCount; index++) {
				if (((message.bitfield[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0) {
					state.held.add(index);
				}
			}
		}

		askForHeld(wire, state);
	},
});

/** One save of the resume file: when, and which pieces it recorded. */
export type ResumeSave = {at: number; pieces: number[]};

/** A resume store in memory that records every save; `load` gives `have` (nothing: a full check). */
export function recordingResume(pieceCount: number, have?: number[]): ResumeStore & {saves: ResumeSave[]} {
	const saves: ResumeSave[] = [];
	return {
		saves,
		load() {
			if (!have) {
				return of(undefined);
			}

			const bitfield = new Bitfield(pieceCount);
			for (const index of have) {
				bitfield.set(index);
			}

			return of(bitfield);
		},
		save(bitfield) {
			const pieces = Array.from({length: bitfield.length}, (_, index) => index).filter((index) =>
				bitfield.has(index),
			);
			saves.push({at: asyncScheduler.now(), pieces});
			return of(undefined);
		},
	};
}
