import test from 'ava';
import {
	decodeMetadataMessage,
	encodeExtendedHandshake,
	encodeMetadataMessage,
	encodePex,
	metadataPieceLength,
	ourExtensions,
} from '../../source/codec/extension-protocol.js';
import type {PeerMessage} from '../../source/codec/messages.js';
import {PeerExtensions} from '../../source/session/extension-messages.js';

/** Their extended handshake: our client's encoder names ut_metadata 1 and ut_pex 2 as their ids too. */
const theirHandshake = (client: string): PeerMessage => ({
	type: 'extended',
	extension: 0,
	payload: encodeExtendedHandshake({client, port: 6881, requestQueue: 250, withPex: true}),
});
const metadataRequest = (piece: number): PeerMessage => ({
	type: 'extended',
	extension: ourExtensions.ut_metadata,
	payload: encodeMetadataMessage({kind: 'request', piece}),
});
const pex = (port: number): PeerMessage => ({
	type: 'extended',
	extension: ourExtensions.ut_pex,
	payload: encodePex({added: [{host: '10.0.0.1', port}], dropped: []}),
});
const infoBytes = Buffer.alloc(metadataPieceLength + 10, 7);
const withPex = {dialable: () => [], intervalMs: 60_000};

test('the handshake names the client once, and its ids are kept; the same client again is no event', (t) => {
	const extensions = new PeerExtensions({peer: 'p', maxMetadataRequests: 10, pex: withPex});
	t.deepEqual(extensions.receive({type: 'have', index: 1}, 0), {}, 'not an extension message');
	t.deepEqual(extensions.receive(theirHandshake('Deluge 2'), 0), {
		event: {type: 'peer-identified', peer: 'p', client: 'Deluge 2'},
	});
	t.is(extensions.theirMetadataId, ourExtensions.ut_metadata);
	t.is(extensions.theirPexId, ourExtensions.ut_pex);
	t.deepEqual(extensions.receive(theirHandshake('Deluge 2'), 1), {});
});

test('handshakes again: a burst of four, then one per 10 s, faster is a protocol error', (t) => {
	const extensions = new PeerExtensions({peer: 'p', maxMetadataRequests: 10});
	for (let n = 0; n < 5; n++) {
		extensions.receive(theirHandshake('x'), 0);
	}

	t.throws(() => extensions.receive(theirHandshake('x'), 0), {message: /faster than 1 every 10 s/});
	const rested = new PeerExtensions({peer: 'p', maxMetadataRequests: 10});
	for (let n = 0; n < 5; n++) {
		rested.receive(theirHandshake('x'), 0);
	}

	t.notThrows(() => rested.receive(theirHandshake('x'), 10_000));
});

test('metadata requests are answered from the info dictionary, with a reject past its end and an error past the cap', (t) => {
	const extensions = new PeerExtensions({peer: 'p', maxMetadataRequests: 3, infoBytes});
	t.deepEqual(extensions.receive(metadataRequest(0), 0), {}, 'no ids named yet: not answered');
	extensions.receive(theirHandshake('x'), 0);
	const answer = (piece: number) => {
		const {reply} = extensions.receive(metadataRequest(piece), 0);
		return reply?.type === 'extended' ? decodeMetadataMessage(reply.payload) : undefined;
	};

	const last = answer(1);
	t.like(last, {kind: 'data', piece: 1, totalSize: infoBytes.length});
	t.is(last?.kind === 'data' ? last.data.length : 0, 10);
	t.like(answer(2), {kind: 'reject', piece: 2});
	t.like(answer(0), {kind: 'data', piece: 0});
	t.throws(() => answer(0), {message: /more than 3 metadata pieces/});
});

test('without the info dictionary every metadata request is rejected', (t) => {
	const extensions = new PeerExtensions({peer: 'p', maxMetadataRequests: 3});
	extensions.receive(theirHandshake('x'), 0);
	const {reply} = extensions.receive(metadataRequest(0), 0);
	t.like(reply?.type === 'extended' ? decodeMetadataMessage(reply.payload) : undefined, {kind: 'reject'});
});

test('PEX is read at most once a minute, and only with PEX on', (t) => {
	const extensions = new PeerExtensions({peer: 'p', maxMetadataRequests: 3, pex: withPex});
	t.like(extensions.receive(pex(1), 0).event, {type: 'peers-found', source: 'pex', from: 'p', count: 1});
	t.deepEqual(extensions.receive(pex(2), 59_999), {});
	t.like(extensions.receive(pex(3), 60_000).event, {peers: [{host: '10.0.0.1', port: 3}]});
	const privateTorrent = new PeerExtensions({peer: 'p', maxMetadataRequests: 3});
	t.deepEqual(privateTorrent.receive(pex(1), 0), {});
});
