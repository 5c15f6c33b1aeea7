import test from 'ava';
import {hostAllowed} from '../../source/ui/host-header.js';

test('a server on loopback accepts its address, localhost and the other loopback name, with its port', (t) => {
	for (const host of [
		'127.0.0.1:3000',
		'localhost:3000',
		'LOCALHOST:3000',
		'[::1]:3000',
		'localhost.:3000',
	]) {
		t.true(hostAllowed(host, {host: '127.0.0.1', port: 3000}), host);
		t.true(hostAllowed(host, {host: '::1', port: 3000}), host);
		t.true(hostAllowed(host, {host: 'localhost', port: 3000}), host);
	}
});

test('DNS rebinding: a name that is not ours, a missing or other port, or no Host at all is refused', (t) => {
	const address = {host: '127.0.0.1', port: 3000};
	for (const host of [
		undefined,
		'',
		'evil.example:3000',
		'evil.example',
		'127.0.0.1.evil.example:3000',
		'localhost.evil.example:3000',
		'127.0.0.1:3001',
		'127.0.0.1',
		'127.0.0.1:',
		'127.0.0.1:03000x',
		'[::1]',
		'::1:3000',
		'127.0.0.1:3000@evil.example',
		'user@127.0.0.1:3000',
		'127.0.0.1:3000/x',
		'127.0.0.1:3000, evil.example:3000',
	]) {
		t.false(hostAllowed(host, address), String(host));
	}
});

test('a server on an address of its own (--web-host) accepts that address, and a name given accepts that name', (t) => {
	t.true(hostAllowed('192.168.1.5:3000', {host: '192.168.1.5', port: 3000}));
	t.false(hostAllowed('localhost:3000', {host: '192.168.1.5', port: 3000}));
	t.false(hostAllowed('evil.example:3000', {host: '192.168.1.5', port: 3000}));
	t.true(hostAllowed('[fe80::1]:3000', {host: 'fe80::1', port: 3000}));
	t.true(hostAllowed('box.lan:3000', {host: 'box.lan', port: 3000}));
	t.true(hostAllowed('Box.LAN:3000', {host: 'box.lan', port: 3000}));
	t.false(hostAllowed('other.lan:3000', {host: 'box.lan', port: 3000}));
});

test('a server on every address accepts any address literal and localhost, but no other name', (t) => {
	for (const listen of ['0.0.0.0', '::']) {
		t.true(hostAllowed('192.168.1.5:5000', {host: listen, port: 5000}), listen);
		t.true(hostAllowed('[fd00::5]:5000', {host: listen, port: 5000}), listen);
		t.true(hostAllowed('localhost:5000', {host: listen, port: 5000}), listen);
		t.false(hostAllowed('evil.example:5000', {host: listen, port: 5000}), listen);
		t.false(hostAllowed('192.168.1.5:5001', {host: listen, port: 5000}), listen);
	}
});

test('port 80 may be left out of the Host header, as HTTP allows', (t) => {
	t.true(hostAllowed('127.0.0.1', {host: '127.0.0.1', port: 80}));
	t.true(hostAllowed('localhost:80', {host: '127.0.0.1', port: 80}));
});
