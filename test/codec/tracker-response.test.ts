import test from 'ava';
import {encodeBencode} from '../../source/codec/bencode.js';
import {maxReplyPeers, parseAnnounceResponse} from '../../source/codec/tracker-response.js';
import {TrackerError} from '../../source/errors.js';

const hex = (text: string) => Buffer.from(text.replaceAll(' ', ''), 'hex');

test('parses a compact reply (BEP 23) with every optional field', (t) => {
	const response = parseAnnounceResponse(
		encodeBencode({
			interval: 900,
			'min interval': 60,
			'tracker id': 'abc123',
			'warning message': 'slow down',
			complete: 12,
			incomplete: 3,
			peers: hex('7f000001 1ae1  0a000002 c8d5'),
		}),
	);
	t.deepEqual(response, {
		interval: 900,
		minInterval: 60,
		peers: [
			{host: '127.0.0.1', port: 6881},
			{host: '10.0.0.2', port: 51_413},
		],
		warning: 'slow down',
		trackerId: 'abc123',
		seeders: 12,
		leechers: 3,
	});
});

test('a minimal reply has only an interval and peers', (t) => {
	t.deepEqual(parseAnnounceResponse(encodeBencode({interval: 1200, peers: Buffer.alloc(0)})), {
		interval: 1200,
		peers: [],
	});
});

test('appends BEP 7 peers6 after the IPv4 peers', (t) => {
	const response = parseAnnounceResponse(
		encodeBencode({
			interval: 60,
			peers: hex('01020304 0050'),
			peers6: hex('00000000000000000000000000000001 1ae1  20010db8000000000000000000000001 1ae2'),
		}),
	);
	t.deepEqual(response.peers, [
		{host: '1.2.3.4', port: 80},
		{host: '::1', port: 6881},
		{host: '2001:db8::1', port: 6882},
	]);
});

test('parses a dictionary peer list, skipping malformed entries and bad ports', (t) => {
	const response = parseAnnounceResponse(
		encodeBencode({
			interval: 60,
			peers: [
				{ip: '10.0.0.1', port: 6881, 'peer id': Buffer.alloc(20, 1)},
				{ip: 'peer.example.org', port: 51_413},
				{ip: '2001:db8::2', port: 1},
				{ip: '10.0.0.9', port: 0},
				{ip: '10.0.0.9', port: 65_536},
				{ip: '10.0.0.9'},
				{port: 6881},
				'not a dictionary',
			],
		}),
	);
	t.deepEqual(response.peers, [
		{host: '10.0.0.1', port: 6881},
		{host: 'peer.example.org', port: 51_413},
		{host: '2001:db8::2', port: 1},
	]);
});

test('a missing or non-positive interval falls back to 30 minutes', (t) => {
	t.is(parseAnnounceResponse(encodeBencode({peers: Buffer.alloc(0)})).interval, 1800);
	t.is(parseAnnounceResponse(encodeBencode({interval: 0, peers: Buffer.alloc(0)})).interval, 1800);
	t.is(parseAnnounceResponse(encodeBencode({interval: -5, peers: Buffer.alloc(0)})).interval, 1800);
	t.is(parseAnnounceResponse(encodeBencode({interval: 'soon', peers: Buffer.alloc(0)})).interval, 1800);
});

test('a min interval of 0 is kept; a negative one is dropped', (t) => {
	t.is(parseAnnounceResponse(encodeBencode({interval: 60, 'min interval': 0})).minInterval, 0);
	t.false('minInterval' in parseAnnounceResponse(encodeBencode({interval: 60, 'min interval': -1})));
});

test('a reply with no peers key has an empty peer list', (t) => {
	t.deepEqual(parseAnnounceResponse(encodeBencode({interval: 60})).peers, []);
});

test('a failure reason becomes a TrackerError with the tracker’s own words', (t) => {
	const error = t.throws(
		() => parseAnnounceResponse(encodeBencode({'failure reason': 'unregistered torrent', interval: 60})),
		{instanceOf: TrackerError},
	);
	t.is(error?.message, 'tracker failure: unregistered torrent');
	t.is(error?.name, 'TrackerError');
});

test('a failure reason that is not a string is still a failure', (t) => {
	t.throws(() => parseAnnounceResponse(encodeBencode({'failure reason': 42})), {
		instanceOf: TrackerError,
		message: 'tracker failure: unspecified',
	});
});

test('the failure reason wins over peers in the same reply', (t) => {
	t.throws(
		() => parseAnnounceResponse(encodeBencode({'failure reason': 'banned', peers: hex('7f000001 1ae1')})),
		{instanceOf: TrackerError, message: /banned/},
	);
});

for (const [what, body] of [
	['an empty body', ''],
	['an HTML error page', '<html><body>502 Bad Gateway</body></html>'],
	['truncated bencode', 'd8:intervali60e5:peers12:abc'],
	['trailing bytes', 'd8:intervali60eeXYZ'],
] as const) {
	test(`${what} is a TrackerError, with the decoding failure as cause`, (t) => {
		const error = t.throws(() => parseAnnounceResponse(Buffer.from(body, 'latin1')), {
			instanceOf: TrackerError,
			message: /malformed reply/,
		});
		t.truthy(error?.cause);
	});
}

for (const [what, body] of [
	['a list', 'li1ee'],
	['an integer', 'i42e'],
	['a string', '5:hello'],
] as const) {
	test(`a reply that is ${what} is a TrackerError`, (t) => {
		t.throws(() => parseAnnounceResponse(Buffer.from(body, 'latin1')), {
			instanceOf: TrackerError,
			message: 'tracker reply is not a dictionary',
		});
	});
}

test('a reply naming 130,000 peers is read up to the cap, without a RangeError from a spread', (t) => {
	const many = Buffer.alloc(130_000 * 6, 1);
	const many6 = Buffer.alloc(130_000 * 18, 0x20);
	const response = parseAnnounceResponse(encodeBencode({interval: 1800, peers: many, peers6: many6}));
	t.is(response.peers.length, maxReplyPeers);
	t.deepEqual(response.peers[0], {host: '1.1.1.1', port: 257});
});
