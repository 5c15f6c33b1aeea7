import test from 'ava';
import {filter, map, type Observable, switchMap} from 'rxjs';
import {MetadataAssembly} from '../../source/metadata/metadata-assembly.js';
import {metadataSession} from '../../source/metadata/metadata-session.js';
import type {ConnectPort} from '../../source/peer/transport.js';
import {type MetadataPeerScript, makeInfoDictionary, metadataPeer} from '../helpers/magnet-peer.js';
import {testScheduler} from '../helpers/marbles.js';

const address = {host: '127.0.0.2', port: 6881};
/** About 40 KiB: three metadata pieces. */
const info = makeInfoDictionary(2000);
const options = {
	infoHash: info.infoHash,
	peerId: Buffer.from('-RX0010-000000000000'),
	client: 'torrent-rx test',
	handshakeTimeoutMs: 3000,
	pieceTimeoutMs: 5000,
};

/**
 * One metadata session with a scripted peer (answering 1 ms after each message) dialled through
 * `dial$`, a cold Observable whose subscriptions are the session's hold on the wire; what it
 * emits, by type, in virtual time.
 */
function sessionWith(script: Partial<MetadataPeerScript>, dial$: Observable<unknown>) {
	const scripted = metadataPeer({infoBytes: info.infoBytes, infoHash: info.infoHash, ...script});
	const dial: ConnectPort = (to) => dial$.pipe(switchMap(() => scripted(to)));
	const assembly = new MetadataAssembly(info.infoHash);
	return metadataSession(address, dial, assembly, options).pipe(
		// The client's name (BEP 10's `v`) is the subject of the extension tests.
		filter((event) => event.type !== 'peer-identified'),
		map((event) => (event.type === 'peer-disconnected' ? `${event.type}: ${event.reason}` : event.type)),
	);
}

test('a peer with the metadata: connected, then the whole info dictionary; the wire held until the session is let go of', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const dial$ = cold('w');
		expectObservable(sessionWith({}, dial$), '^ 20ms !').toBe('abm', {
			a: 'peer-connecting',
			b: 'peer-connected',
			m: 'metadata',
		});
		expectSubscriptions(dial$.subscriptions).toBe('^ 20ms !');
	});
});

test('a peer that sends no metadata piece is left after the piece timeout, its wire let go of then', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const dial$ = cold('w');
		expectObservable(sessionWith({silent: true}, dial$)).toBe('ab 4999ms (d|)', {
			a: 'peer-connecting',
			b: 'peer-connected',
			d: 'peer-disconnected: no metadata piece for 5 s',
		});
		expectSubscriptions(dial$.subscriptions).toBe('^ 5000ms !');
	});
});

test('a peer without the extension protocol is left at its handshake', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const dial$ = cold('w');
		expectObservable(sessionWith({extensionBit: false}, dial$)).toBe('a(d|)', {
			a: 'peer-connecting',
			d: 'peer-disconnected: no extension protocol, so no metadata',
		});
		expectSubscriptions(dial$.subscriptions).toBe('^!');
	});
});
