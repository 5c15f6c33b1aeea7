import test from 'ava';
import {decodeCompactPeers, encodeCompactPeer, peerKey} from '../../source/codec/compact-peers.js';

const hex = (text: string) => Buffer.from(text.replaceAll(' ', ''), 'hex');

test('BEP 23: decodes 6-byte IPv4 entries, port in network order', (t) => {
	t.deepEqual(decodeCompactPeers(hex('7f000001 1ae1  c0a80a02 c8d5  ffffffff 0001'), 4), [
		{host: '127.0.0.1', port: 6881},
		{host: '192.168.10.2', port: 51_413},
		{host: '255.255.255.255', port: 1},
	]);
});

test('an empty compact list has no peers', (t) => {
	t.deepEqual(decodeCompactPeers(Buffer.alloc(0), 4), []);
	t.deepEqual(decodeCompactPeers(Buffer.alloc(0), 6), []);
});

test('a trailing partial entry is ignored, the complete ones are kept', (t) => {
	t.deepEqual(decodeCompactPeers(hex('0a000001 1ae1  0a0000'), 4), [{host: '10.0.0.1', port: 6881}]);
});

test('an entry with port 0 is skipped', (t) => {
	t.deepEqual(decodeCompactPeers(hex('0a000001 0000  0a000002 0050'), 4), [{host: '10.0.0.2', port: 80}]);
});

test('decodes from a view with a byte offset into a larger buffer', (t) => {
	const backing = hex('ffff 01020304 0050 ffff');
	t.deepEqual(decodeCompactPeers(backing.subarray(2, 8), 4), [{host: '1.2.3.4', port: 80}]);
});

test('BEP 7: decodes 18-byte IPv6 entries in canonical compressed text', (t) => {
	const peers = decodeCompactPeers(
		hex(
			`
			00000000000000000000000000000001 1ae1
			20010db8000000000000000000000001 0050
			20010db8000000010000000000000000 01bb
			fe800000000000000202b3fffe1e8329 c8d5
			00000000000000000000ffffc0000280 1ae2
			00000000000000000000000000000000 1ae3
		`.replaceAll(/\s/g, ''),
		),
		6,
	);
	t.deepEqual(peers, [
		{host: '::1', port: 6881},
		{host: '2001:db8::1', port: 80},
		{host: '2001:db8:0:1::', port: 443},
		{host: 'fe80::202:b3ff:fe1e:8329', port: 51_413},
		{host: '192.0.2.128', port: 6882},
		{host: '::', port: 6883},
	]);
});

test('IPv6 compresses only the longest run of zero groups, and not a single one (RFC 5952)', (t) => {
	t.deepEqual(decodeCompactPeers(hex('20010db8 0000 0001 0000 0000 0000 0001 1ae1'), 6), [
		{host: '2001:db8:0:1::1', port: 6881},
	]);
	t.deepEqual(decodeCompactPeers(hex('20010db8 0000 0001 0001 0001 0001 0001 1ae1'), 6), [
		{host: '2001:db8:0:1:1:1:1:1', port: 6881},
	]);
});

test('an IPv6 list with a trailing partial entry keeps the complete ones', (t) => {
	t.deepEqual(decodeCompactPeers(hex('00000000000000000000000000000001 1ae1 0000'), 6), [
		{host: '::1', port: 6881},
	]);
});

test('encodeCompactPeer writes the BEP 23 layout and round-trips', (t) => {
	const encoded = encodeCompactPeer({host: '192.168.1.20', port: 6881});
	t.is(encoded.toString('hex'), 'c0a801141ae1');
	t.deepEqual(decodeCompactPeers(encoded, 4), [{host: '192.168.1.20', port: 6881}]);
});

test('peerKey brackets IPv6 hosts only', (t) => {
	t.is(peerKey({host: '10.0.0.1', port: 6881}), '10.0.0.1:6881');
	t.is(peerKey({host: '2001:db8::1', port: 6881}), '[2001:db8::1]:6881');
});

test('decoding stops at the limit it is given', (t) => {
	t.deepEqual(decodeCompactPeers(hex('0a000001 1ae1  0a000002 1ae1  0a000003 1ae1'), 4, 2), [
		{host: '10.0.0.1', port: 6881},
		{host: '10.0.0.2', port: 6881},
	]);
});

test('a peer key brackets every host but a dotted quad, as net.isIPv4 reads one', (t) => {
	const keys = ['1.2.3.4', '255.255.255.255', '01.2.3.4', '256.0.0.1', '::1', 'localhost'].map((host) =>
		peerKey({host, port: 6881}),
	);
	t.deepEqual(keys, [
		'1.2.3.4:6881',
		'255.255.255.255:6881',
		'[01.2.3.4]:6881',
		'[256.0.0.1]:6881',
		'[::1]:6881',
		'[localhost]:6881',
	]);
});
