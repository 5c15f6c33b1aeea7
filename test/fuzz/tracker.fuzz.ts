import {isIP} from 'node:net';
import test from 'ava';
import fc from 'fast-check';
import {decodeCompactPeers, encodeCompactPeer, type PeerAddress} from '../../source/codec/compact-peers.js';
import {type AnnounceResponse, parseAnnounceResponse} from '../../source/codec/tracker-response.js';
import {decodeUdpTrackerReply, type UdpTrackerReply} from '../../source/codec/udp-tracker.js';
import {TrackerError} from '../../source/errors.js';
import {expectOutcome, fuzzParameters, hasControlCharacters, holds, invariant} from './harness.js';
import {bencodeNode, damaged, dictNode, encodeNode, mutatedBytes} from './mutate.js';
import {compactPeerBytes, ipv4Peer, trackerReplyBytes, trackerReplyNode, udpTrackerReply} from './seeds.js';

const runs = fuzzParameters(800);

function assertPeer(peer: PeerAddress, compact: boolean): void {
	invariant(Number.isInteger(peer.port) && peer.port > 0 && peer.port < 65_536, `port ${peer.port}`);
	invariant(typeof peer.host === 'string', 'a host');
	if (compact) {
		invariant(isIP(peer.host) !== 0, `compact host ${peer.host} is an IP address`);
	}
}

function assertAnnounceResponse(response: AnnounceResponse): void {
	invariant(
		Number.isSafeInteger(response.interval) && response.interval > 0,
		`interval ${response.interval}`,
	);
	invariant(
		response.minInterval === undefined ||
			(Number.isSafeInteger(response.minInterval) && response.minInterval >= 0),
		'min interval',
	);
	for (const peer of response.peers) {
		assertPeer(peer, false);
	}
}

// ---------------------------------------------------------------------------------------------
// HTTP tracker replies (BEP 3, 23, 7)

function parseHttp(body: Uint8Array): void {
	const outcome = expectOutcome(() => parseAnnounceResponse(body), [TrackerError]);
	if (outcome.ok) {
		assertAnnounceResponse(outcome.value);
	}
}

test('HTTP: valid replies parse to their peers and fields, a failure reason to a TrackerError', (t) => {
	holds(
		t,
		fc.property(trackerReplyNode, (node) => {
			const outcome = expectOutcome(() => parseAnnounceResponse(encodeNode(node)), [TrackerError]);
			const fields = new Map(
				node.kind === 'dict' ? node.entries.map(([key, value]) => [Buffer.from(key).toString(), value]) : [],
			);
			invariant(outcome.ok === !fields.has('failure reason'), 'a failure reason, and only that, is an error');
			if (!outcome.ok) {
				return;
			}

			assertAnnounceResponse(outcome.value);
			const peers = fields.get('peers');
			const peers6 = fields.get('peers6');
			const expected = [
				...(peers?.kind === 'bytes' ? decodeCompactPeers(peers.value, 4) : []),
				...(peers?.kind === 'list'
					? peers.items.flatMap((peer) => {
							const entries = new Map(
								peer.kind === 'dict'
									? peer.entries.map(([key, value]) => [Buffer.from(key).toString(), value])
									: [],
							);
							const ip = entries.get('ip');
							const port = entries.get('port');
							return ip?.kind === 'bytes' && port?.kind === 'int' && port.value > 0n && port.value < 65_536n
								? [{host: Buffer.from(ip.value).toString(), port: Number(port.value)}]
								: [];
						})
					: []),
				...(peers6?.kind === 'bytes' ? decodeCompactPeers(peers6.value, 6) : []),
			];
			invariant(JSON.stringify(outcome.value.peers) === JSON.stringify(expected), 'every peer, in order');
		}),
		runs,
	);
});

test('HTTP: random bytes and documents parse or throw a TrackerError', (t) => {
	holds(
		t,
		fc.property(
			fc.oneof(
				fc.uint8Array({maxLength: 64}),
				bencodeNode().map(encodeNode),
				bencodeNode().map((node) => encodeNode(dictNode({peers: node, interval: node}))),
			),
			(body) => {
				parseHttp(body);
			},
		),
		runs,
	);
});

test('HTTP: mutated replies parse or throw a TrackerError', (t) => {
	holds(
		t,
		fc.property(damaged(trackerReplyBytes), (body) => {
			parseHttp(body);
		}),
		runs,
	);
});

// Regression (see bencode.fuzz.ts): a `__proto__` key once made a dictionary pass for bytes, so
// parseAnnounceResponse threw a TypeError, not a TrackerError, on one in `failure reason`, `peers`,
// `peers6`, `warning message` or `tracker id`. Our own bencode decoder fixed it.
test('HTTP: mutated replies with __proto__ keys parse or throw a TrackerError', (t) => {
	holds(
		t,
		fc.property(damaged(trackerReplyBytes, {withPrototypeKeys: true}), (body) => {
			parseHttp(body);
		}),
		runs,
	);
});

test('HTTP: a failure reason or peers that are dictionaries (with a __proto__ key) are read for what they are', (t) => {
	// Once TypeErrors in bytesToText and decodeCompactPeers.
	t.throws(() => parseAnnounceResponse(Buffer.from('d14:failure reasond9:__proto__0:ee', 'latin1')), {
		instanceOf: TrackerError,
	});
	t.deepEqual(parseAnnounceResponse(Buffer.from('d5:peersd9:__proto__0:ee', 'latin1')).peers, []);
});

test('HTTP: deep nesting and a 2 GiB string are TrackerErrors', (t) => {
	for (const body of [
		`d5:peers${'l'.repeat(100_000)}`,
		'd5:peers2147483648:abc',
		'd8:intervali99999999999999999999ee',
	]) {
		t.throws(
			() => parseAnnounceResponse(Buffer.from(body, 'latin1')),
			{instanceOf: TrackerError},
			body.slice(0, 30),
		);
	}
});

// ---------------------------------------------------------------------------------------------
// UDP tracker replies (BEP 15)

const family = fc.constantFrom('IPv4' as const, 'IPv6' as const);

function assertUdpReply(reply: UdpTrackerReply, packet: Buffer): void {
	const uint32 = (value: number) => Number.isInteger(value) && value >= 0 && value <= 0xff_ff_ff_ff;
	invariant(uint32(reply.transactionId), 'transaction id');
	switch (reply.action) {
		case 'connect':
			invariant(reply.connectionId >= 0n && reply.connectionId < 2n ** 64n, 'connection id');
			return;
		case 'announce':
			invariant(uint32(reply.interval) && uint32(reply.leechers) && uint32(reply.seeders), 'counts');
			invariant(reply.peers.length <= (packet.length - 20) / 6, 'no more peers than bytes');
			for (const peer of reply.peers) {
				assertPeer(peer, true);
			}

			return;
		case 'scrape':
			invariant(reply.files.length === Math.floor((packet.length - 8) / 12), 'one entry per 12 bytes');
			return;
		case 'error':
			// The tracker's words go to a terminal: no control characters, no escape sequences.
			invariant(!hasControlCharacters(reply.message), 'printable message');
			invariant(reply.message.length <= 800, 'a bounded message');
	}
}

function parseUdp(packet: Buffer, addressFamily: 'IPv4' | 'IPv6'): void {
	const outcome = expectOutcome(() => decodeUdpTrackerReply(packet, addressFamily), [TrackerError]);
	if (outcome.ok) {
		assertUdpReply(outcome.value, packet);
	}
}

test('UDP: valid replies decode to their action and fields', (t) => {
	holds(
		t,
		fc.property(
			family.chain((addressFamily) => fc.tuple(fc.constant(addressFamily), udpTrackerReply(addressFamily))),
			([addressFamily, packet]) => {
				const reply = decodeUdpTrackerReply(packet, addressFamily);
				assertUdpReply(reply, packet);
				invariant(
					reply.action === ['connect', 'announce', 'scrape', 'error'][packet.readUInt32BE(0)],
					'action',
				);
				invariant(reply.transactionId === packet.readUInt32BE(4), 'transaction id');
				if (reply.action === 'announce') {
					const expected = decodeCompactPeers(packet.subarray(20), addressFamily === 'IPv4' ? 4 : 6);
					invariant(JSON.stringify(reply.peers) === JSON.stringify(expected), 'every peer');
				}
			},
		),
		runs,
	);
});

test('UDP: random and mutated packets decode or throw a TrackerError', (t) => {
	const randomPacket = fc
		.tuple(fc.integer({min: 0, max: 5}), fc.uint8Array({maxLength: 120}))
		.map(([action, rest]) => {
			// Mostly a known action, so the packet gets past the switch.
			const head = Buffer.alloc(4);
			head.writeUInt32BE(action);
			return Buffer.concat([head, rest]);
		});
	holds(
		t,
		fc.property(
			fc.oneof(
				fc.uint8Array({maxLength: 40}).map((bytes) => Buffer.from(bytes)),
				randomPacket,
				mutatedBytes(family.chain(udpTrackerReply)).map(({mutated}) => mutated),
			),
			family,
			(packet, addressFamily) => {
				parseUdp(packet, addressFamily);
			},
		),
		runs,
	);
});

test('UDP: an error reply of 64 KiB of escape sequences becomes one bounded, printable line', (t) => {
	const packet = Buffer.concat([Buffer.from([0, 0, 0, 3, 0, 0, 0, 1]), Buffer.alloc(65_000, '\u001b[2J')]);
	const reply = decodeUdpTrackerReply(packet, 'IPv4');
	t.is(reply.action, 'error');
	t.notThrows(() => {
		assertUdpReply(reply, packet);
	});
});

// ---------------------------------------------------------------------------------------------
// Compact peers (BEP 23, BEP 7)

test('compact peers: any bytes give one peer per whole entry with a port, as IP addresses', (t) => {
	holds(
		t,
		fc.property(
			fc.oneof(fc.uint8Array({maxLength: 100}), compactPeerBytes(4), compactPeerBytes(6)),
			fc.constantFrom(4 as const, 6 as const),
			fc.nat({max: 7}),
			(bytes, addressFamily, offset) => {
				// A view into a bigger buffer, as a decoded bencode string can be.
				const view = Buffer.concat([Buffer.alloc(offset, 0xee), bytes]).subarray(offset);
				const outcome = expectOutcome(() => decodeCompactPeers(view, addressFamily), []);
				invariant(outcome.ok, 'decoded');
				const entry = addressFamily === 4 ? 6 : 18;
				let withPort = 0;
				for (let start = 0; start + entry <= bytes.length; start += entry) {
					withPort += Buffer.from(bytes).readUInt16BE(start + entry - 2) === 0 ? 0 : 1;
				}

				invariant(
					outcome.value.length === withPort,
					`${outcome.value.length} peers, ${withPort} entries with a port`,
				);
				for (const peer of outcome.value) {
					assertPeer(peer, true);
				}

				invariant(
					JSON.stringify(outcome.value) ===
						JSON.stringify(decodeCompactPeers(Uint8Array.from(bytes), addressFamily)),
					'a view decodes as a copy does',
				);
			},
		),
		runs,
	);
});

test('compact peers: IPv4 peers round-trip through encodeCompactPeer', (t) => {
	holds(
		t,
		fc.property(fc.array(ipv4Peer, {maxLength: 10}), (peers) => {
			const decoded = decodeCompactPeers(Buffer.concat(peers.map(encodeCompactPeer)), 4);
			invariant(JSON.stringify(decoded) === JSON.stringify(peers), 'the same peers');
		}),
		runs,
	);
});
