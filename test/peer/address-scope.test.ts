import test from 'ava';
import {isLocalAddress, isPublicAddress} from '../../source/peer/address-scope.js';

test('loopback, private, link-local, CGNAT, unspecified and multicast addresses are local', (t) => {
	for (const host of [
		'127.0.0.1',
		'127.8.9.10',
		'10.1.2.3',
		'172.16.0.1',
		'172.31.255.255',
		'192.168.1.1',
		'169.254.10.10',
		'100.64.0.1',
		'0.0.0.0',
		'224.0.0.251',
		'::1',
		'[::1]',
		'::',
		'fd00::1',
		'fe80::1',
		'ff02::1',
		'::ffff:192.168.1.1',
		'::ffff:7f00:1',
		'::127.0.0.1',
		'localhost',
		'LOCALHOST',
	]) {
		t.true(isLocalAddress(host), host);
		t.false(isPublicAddress(host), host);
	}
});

test('public addresses are not local; a host name is neither local nor public', (t) => {
	for (const host of ['1.2.3.4', '172.32.0.1', '8.8.8.8', '2001:db8::1', '::ffff:8.8.8.8']) {
		t.false(isLocalAddress(host), host);
		t.true(isPublicAddress(host), host);
	}

	t.false(isLocalAddress('tracker.example.org'));
	t.false(isPublicAddress('tracker.example.org'));
});
