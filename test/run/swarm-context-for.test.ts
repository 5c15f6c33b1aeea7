import test from 'ava';
import {NEVER} from 'rxjs';
import type {Metainfo} from '../../source/codec/metainfo.js';
import {PiecePicker} from '../../source/download/piece-picker.js';
import {defaultWindowOptions} from '../../source/download/request-window.js';
import {swarmContextFor} from '../../source/run/swarm-context-for.js';
import type {SwarmShared} from '../../source/swarm/swarm-context.js';
import {metainfoOf} from '../helpers/download-ports.js';
import {makeTorrent} from '../helpers/fake-peer.js';

const torrent = makeTorrent(3 * 16 * 1024, 16 * 1024);
const options = {
	peerId: Buffer.from('-RX0001-000000000000'),
	port: 6889,
	window: defaultWindowOptions,
	tickMs: 1000,
	handshakeTimeoutMs: 10_000,
	maxQueuedRequests: 100,
	maxStrikes: 2,
};
const shared = (): SwarmShared => ({
	picker: new PiecePicker((index) => (index < 3 ? 16 * 1024 : 0), 3, {maxBytesInFlight: 1 << 20}),
	peers: new Map(),
	unchoked$: NEVER,
	interestChanged: () => undefined,
	totals: {uploaded: 0},
});

test('the settings come from the torrent and the options; the shared part is the caller’s own; PEX names the peers `dialable` gives', (t) => {
	const metainfo: Metainfo = metainfoOf(torrent);
	const theShared = shared();
	const reached = [{host: '10.0.0.1', port: 6881}];
	const context = swarmContextFor(metainfo, options, theShared, () => reached);
	t.is(context.shared, theShared);
	t.is(context.settings.infoHash, metainfo.infoHash);
	t.is(context.settings.infoBytes, metainfo.infoBytes);
	t.is(context.settings.listenPort, 6889);
	t.is(context.settings.pieceSize(2), 16 * 1024);
	t.deepEqual(context.settings.pex?.dialable(), reached);
	t.is(context.settings.pex?.intervalMs, 60_000);
	t.false('scheduler' in context.settings);
	t.false(context.reputation.isBanned('10.0.0.1:6881'));
});

test('a private torrent gets no PEX (BEP 27); each context gets a reputation of its own', (t) => {
	const metainfo = metainfoOf(torrent, {isPrivate: true});
	const first = swarmContextFor(metainfo, options, shared(), () => []);
	const second = swarmContextFor(metainfo, options, shared(), () => []);
	t.is(first.settings.pex, undefined);
	t.not(first.reputation, second.reputation);
});
