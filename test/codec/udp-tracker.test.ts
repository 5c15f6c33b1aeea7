import test from 'ava';
import {
	decodeUdpTrackerReply,
	encodeAnnounceRequest,
	encodeConnectRequest,
	encodeScrapeRequest,
	type UdpAnnounce,
	udpActions,
} from '../../source/codec/udp-tracker.js';
import {TrackerError} from '../../source/errors.js';

const hex = (text: string) => Buffer.from(text.replaceAll(/\s/g, ''), 'hex');

const infoHash = Buffer.from(Array.from({length: 20}, (_, index) => 0xa0 + index));
const peerId = Buffer.from('-RX0001-abcdefghijkl');

const announce: UdpAnnounce = {
	infoHash,
	peerId,
	downloaded: 2 ** 32 + 5,
	left: 2 ** 40 + 3,
	uploaded: Number.MAX_SAFE_INTEGER,
	event: 'started',
	key: 0xca_fe_ba_be,
	numwant: 50,
	port: 51_413,
};

test('BEP 15 connect request: the magic protocol id, action 0, the transaction id', (t) => {
	const packet = encodeConnectRequest(0xde_ad_be_ef);
	t.is(packet.length, 16);
	t.deepEqual(packet, hex('00000417 27101980  00000000  deadbeef'));
	t.is(packet.readBigUInt64BE(0), 0x417_2710_1980n);
	t.deepEqual(encodeConnectRequest(0).subarray(12), hex('00000000'));
});

test('BEP 15 announce request: 98 bytes, every field at its offset', (t) => {
	const packet = encodeAnnounceRequest(0x0123_4567_89ab_cdefn, 0x8000_0001, announce);
	t.is(packet.length, 98);
	t.deepEqual(packet.subarray(0, 8), hex('0123456789abcdef'), 'connection id');
	t.is(packet.readUInt32BE(8), udpActions.announce, 'action');
	t.is(packet.readUInt32BE(8), 1);
	t.deepEqual(packet.subarray(12, 16), hex('80000001'), 'transaction id');
	t.deepEqual(packet.subarray(16, 36), infoHash, 'info hash');
	t.deepEqual(packet.subarray(36, 56), peerId, 'peer id');
	t.deepEqual(packet.subarray(56, 64), hex('00000001 00000005'), 'downloaded beyond 2^32');
	t.deepEqual(packet.subarray(64, 72), hex('00000100 00000003'), 'left beyond 2^32');
	t.deepEqual(packet.subarray(72, 80), hex('001fffff ffffffff'), 'uploaded: 2^53 - 1');
	t.deepEqual(packet.subarray(80, 84), hex('00000002'), 'event started = 2');
	t.deepEqual(packet.subarray(84, 88), hex('00000000'), 'ip 0: the sender address');
	t.deepEqual(packet.subarray(88, 92), hex('cafebabe'), 'key');
	t.deepEqual(packet.subarray(92, 96), hex('00000032'), 'num_want 50');
	t.deepEqual(packet.subarray(96, 98), hex('c8d5'), 'port 51413');
});

test('BEP 15 announce request: the whole packet, byte for byte', (t) => {
	const packet = encodeAnnounceRequest(1n, 2, {
		infoHash: Buffer.alloc(20, 0x11),
		peerId: Buffer.alloc(20, 0x22),
		downloaded: 3,
		left: 4,
		uploaded: 5,
		event: 'completed',
		key: 6,
		numwant: 7,
		port: 8,
	});
	t.deepEqual(
		packet,
		hex(`
			0000000000000001 00000001 00000002
			${'11'.repeat(20)}
			${'22'.repeat(20)}
			0000000000000003 0000000000000004 0000000000000005
			00000001 00000000 00000006 00000007 0008
		`),
	);
});

test('BEP 15 event codes: none 0, completed 1, started 2, stopped 3', (t) => {
	const eventCode = (event: UdpAnnounce['event']) => {
		const {event: _, ...rest} = announce;
		return encodeAnnounceRequest(0n, 0, event ? {...rest, event} : rest).readUInt32BE(80);
	};

	t.is(eventCode(undefined), 0);
	t.is(eventCode('completed'), 1);
	t.is(eventCode('started'), 2);
	t.is(eventCode('stopped'), 3);
});

test('num_want -1 (the tracker decides) is the int32 0xffffffff', (t) => {
	const packet = encodeAnnounceRequest(0n, 0, {...announce, numwant: -1});
	t.deepEqual(packet.subarray(92, 96), hex('ffffffff'));
	t.is(packet.readInt32BE(92), -1);
});

test('a key with the high bit set, or given as a negative int32, is written as its 32 bits', (t) => {
	t.deepEqual(encodeAnnounceRequest(0n, 0, {...announce, key: -2}).subarray(88, 92), hex('fffffffe'));
	t.deepEqual(
		encodeAnnounceRequest(0n, 0, {...announce, key: 0xff_ff_ff_ff}).subarray(88, 92),
		hex('ffffffff'),
	);
});

test('the largest connection id and transaction id fit', (t) => {
	const packet = encodeAnnounceRequest(0xffff_ffff_ffff_ffffn, 0xff_ff_ff_ff, announce);
	t.deepEqual(packet.subarray(0, 16), hex('ffffffffffffffff 00000001 ffffffff'));
});

test('BEP 15 scrape request: connection id, action 2, transaction id, 20 bytes per info hash', (t) => {
	const second = Buffer.alloc(20, 0x5a);
	const packet = encodeScrapeRequest(0x1122_3344_5566_7788n, 9, [infoHash, second]);
	t.is(packet.length, 16 + 40);
	t.deepEqual(packet.subarray(0, 16), hex('1122334455667788 00000002 00000009'));
	t.deepEqual(packet.subarray(16, 36), infoHash);
	t.deepEqual(packet.subarray(36, 56), second);
	t.deepEqual(encodeScrapeRequest(1n, 2, []), hex('0000000000000001 00000002 00000002'));
});

test('decodes a connect reply: the transaction id and the 64-bit connection id', (t) => {
	t.deepEqual(decodeUdpTrackerReply(hex('00000000 89abcdef fedcba9876543210'), 'IPv4'), {
		action: 'connect',
		transactionId: 0x89_ab_cd_ef,
		connectionId: 0xfedc_ba98_7654_3210n,
	});
});

test('decodes an announce reply with 6-byte IPv4 peers, ignoring a trailing partial one', (t) => {
	const packet = hex(`
		00000001 00000007 00000708 00000003 00000005
		7f000001 1ae1
		c0a80a02 c8d5
		0a0000
	`);
	t.deepEqual(decodeUdpTrackerReply(packet, 'IPv4'), {
		action: 'announce',
		transactionId: 7,
		interval: 1800,
		leechers: 3,
		seeders: 5,
		peers: [
			{host: '127.0.0.1', port: 6881},
			{host: '192.168.10.2', port: 51_413},
		],
	});
});

test('decodes an announce reply from an IPv6 tracker: 18-byte peers, a trailing partial one ignored', (t) => {
	const peers = hex(`
		20010db8000000000000000000000001 1ae1
		00000000000000000000000000000001 c8d5
		fe80000000000000
	`);
	const packet = Buffer.concat([hex('00000001 00000001 0000003c 00000000 00000002'), peers]);
	const reply = decodeUdpTrackerReply(packet, 'IPv6');
	const expectedPeers = [
		{host: '2001:db8::1', port: 6881},
		{host: '::1', port: 51_413},
	];
	t.deepEqual(reply, {
		action: 'announce',
		transactionId: 1,
		interval: 60,
		leechers: 0,
		seeders: 2,
		peers: expectedPeers,
	});
	// The same bytes from an IPv4 tracker are 6-byte entries: the family decides.
	const asIPv4 = decodeUdpTrackerReply(packet, 'IPv4');
	t.is(asIPv4.action, 'announce');
	t.notDeepEqual(asIPv4.action === 'announce' ? asIPv4.peers : [], expectedPeers);
	t.true(asIPv4.action === 'announce' && asIPv4.peers.every((peer) => !peer.host.includes(':')));
});

test('an announce reply with only its 20-byte header has no peers', (t) => {
	for (const family of ['IPv4', 'IPv6'] as const) {
		t.deepEqual(decodeUdpTrackerReply(hex('00000001 00000002 00000384 0000000a 00000014'), family), {
			action: 'announce',
			transactionId: 2,
			interval: 900,
			leechers: 10,
			seeders: 20,
			peers: [],
		});
	}
});

test('decodes a scrape reply: seeders, completed, leechers per info hash; a partial entry ignored', (t) => {
	const packet = hex(`
		00000002 00000004
		00000001 00000002 00000003
		ffffffff 00000000 0000000a
		000000
	`);
	t.deepEqual(decodeUdpTrackerReply(packet, 'IPv4'), {
		action: 'scrape',
		transactionId: 4,
		files: [
			{seeders: 1, completed: 2, leechers: 3},
			{seeders: 0xff_ff_ff_ff, completed: 0, leechers: 10},
		],
	});
	t.deepEqual(decodeUdpTrackerReply(hex('00000002 00000004'), 'IPv4'), {
		action: 'scrape',
		transactionId: 4,
		files: [],
	});
});

test('decodes an error reply: the message as text', (t) => {
	const packet = Buffer.concat([hex('00000003 00000011'), Buffer.from('Connection ID missmatch.')]);
	t.deepEqual(decodeUdpTrackerReply(packet, 'IPv4'), {
		action: 'error',
		transactionId: 17,
		message: 'Connection ID missmatch.',
	});
	t.deepEqual(decodeUdpTrackerReply(hex('00000003 00000011'), 'IPv6'), {
		action: 'error',
		transactionId: 17,
		message: '',
	});
});

test("an error reply's control characters and escape sequences come out printable", (t) => {
	const hostile = 'bad\u001b[31m red\u001b]0;title\u0007 \u009b2J\r\nend\u0000\u007f';
	const reply = decodeUdpTrackerReply(
		Buffer.concat([hex('00000003 00000001'), Buffer.from(hostile)]),
		'IPv4',
	);
	if (reply.action !== 'error') {
		t.fail(`decoded as ${reply.action}`);
		return;
	}

	const controls = [...reply.message].filter((char) => {
		const code = char.codePointAt(0) ?? 0;
		return code < 0x20 || (code >= 0x7f && code < 0xa0);
	});
	t.deepEqual(controls, [], JSON.stringify(reply.message));
	t.is(reply.message, 'bad [31m red ]0;title   2J  end');
});

test("an error reply's message is cut short", (t) => {
	const reply = decodeUdpTrackerReply(
		Buffer.concat([hex('00000003 00000001'), Buffer.from('x'.repeat(5000))]),
		'IPv4',
	);
	t.is(reply.action, 'error');
	t.true(reply.action === 'error' && reply.message.length > 0 && reply.message.length <= 800);
});

test('packets too short for their action are TrackerErrors', (t) => {
	for (let length = 0; length < 8; length++) {
		t.throws(
			() => decodeUdpTrackerReply(Buffer.alloc(length), 'IPv4'),
			{instanceOf: TrackerError},
			`${length}`,
		);
	}

	for (let length = 8; length < 16; length++) {
		const connect = Buffer.alloc(length);
		t.throws(() => decodeUdpTrackerReply(connect, 'IPv4'), {instanceOf: TrackerError}, `connect ${length}`);
	}

	for (let length = 8; length < 20; length++) {
		const packet = Buffer.alloc(length);
		packet.writeUInt32BE(udpActions.announce, 0);
		for (const family of ['IPv4', 'IPv6'] as const) {
			t.throws(
				() => decodeUdpTrackerReply(packet, family),
				{instanceOf: TrackerError},
				`announce ${length} ${family}`,
			);
		}
	}

	t.is(decodeUdpTrackerReply(Buffer.alloc(16), 'IPv4').action, 'connect', 'the boundary itself decodes');
});

test('unknown actions are TrackerErrors naming the action', (t) => {
	for (const action of [4, 5, 0x100, 0x7f_ff_ff_ff, 0xff_ff_ff_ff]) {
		const packet = Buffer.alloc(64);
		packet.writeUInt32BE(action, 0);
		t.throws(() => decodeUdpTrackerReply(packet, 'IPv4'), {
			instanceOf: TrackerError,
			message: new RegExp(`unknown action ${action}\\b`),
		});
	}
});

/** xorshift32: the same "random" buffers on every run. */
function seededRandom(seed: number): () => number {
	let state = seed >>> 0 || 1;
	return () => {
		state ^= state << 13;
		state ^= state >>> 17;
		state ^= state << 5;
		state >>>= 0;
		return state;
	};
}

test('random garbage either decodes or is a TrackerError, never a crash', (t) => {
	const next = seededRandom(0x15_b3_9d);
	const decodedActions = new Set<string>();
	let errors = 0;
	for (let round = 0; round < 600; round++) {
		const length = next() % 140;
		const packet = Buffer.from(Array.from({length}, () => next() & 0xff));
		// Mostly known actions, so that every decoder sees garbage, not just the unknown-action path.
		if (length >= 4 && next() % 4 !== 0) {
			packet.writeUInt32BE(next() % 4, 0);
		}

		const family = next() % 2 === 0 ? 'IPv4' : 'IPv6';
		try {
			const reply = decodeUdpTrackerReply(packet, family);
			decodedActions.add(reply.action);
			t.is(reply.transactionId, packet.readUInt32BE(4));
			if (reply.action === 'announce') {
				t.true(reply.peers.length <= Math.floor((length - 20) / (family === 'IPv4' ? 6 : 18)));
			}
		} catch (error) {
			errors++;
			if (!(error instanceof TrackerError)) {
				t.fail(`round ${round}: ${String(error)} for ${packet.toString('hex')} (${family})`);
				return;
			}
		}
	}

	// The loop must have exercised every path, or it proves little.
	t.deepEqual([...decodedActions].sort(), ['announce', 'connect', 'error', 'scrape']);
	t.true(errors > 0);
});
