import type {LookupAddress} from 'node:dns';
import type {LookupFunction} from 'node:net';
import test from 'ava';
import {isLocalAddress} from '../../source/peer/address-scope.js';
import {hopAccess, publicOnlyLookup} from '../../source/webseed/seed-address.js';
import {WebSeedError} from '../../source/webseed/web-seed-error.js';

const access = (url: string, seedIsLocal: boolean | undefined) =>
	hopAccess(new URL(url), seedIsLocal, isLocalAddress);

test("the seed's own URL may be local, but not with a query string", (t) => {
	t.deepEqual(access('http://192.168.1.5/file', undefined), {publicOnly: false});
	t.deepEqual(access('http://[::1]:8080/file', undefined), {publicOnly: false});
	t.deepEqual(access('http://localhost/file', undefined), {publicOnly: false});
	t.deepEqual(access('http://seed.example/file', undefined), {publicOnly: false});
	t.deepEqual(access('http://192.168.1.5/file?id=1', undefined), {
		refused: 'a web seed on a local address may not have a query string',
	});
	// A name with a query string must turn out to be public when it resolves.
	t.deepEqual(access('http://seed.example/file?id=1', undefined), {publicOnly: true});
	t.deepEqual(access('http://93.184.216.34/file?id=1', undefined), {publicOnly: true});
});

test('a redirect from a public seed reaches public addresses only; from a local seed, local ones too', (t) => {
	t.deepEqual(access('http://10.0.0.1/file', false), {
		refused: 'a web seed on a public address may not redirect to a local one',
	});
	t.true('refused' in access('http://[::ffff:127.0.0.1]/file', false));
	t.true('refused' in access('http://169.254.169.254/latest/meta-data', false));
	t.deepEqual(access('http://mirror.example/file', false), {publicOnly: true});
	t.deepEqual(access('http://10.0.0.1/file', true), {publicOnly: false});
	t.true('refused' in access('http://10.0.0.1/file?id=1', true));
	t.deepEqual(access('http://mirror.example/file?id=1', true), {publicOnly: true});
});

function lookupAnswering(addresses: string[]): LookupFunction {
	return (_hostname, options, callback) => {
		const all: LookupAddress[] = addresses.map((address) => ({
			address,
			family: address.includes(':') ? 6 : 4,
		}));
		if (options.all) {
			callback(null, all);
		} else {
			callback(null, all[0]?.address ?? '', all[0]?.family);
		}
	};
}

function resolve(lookup: LookupFunction, all: boolean): Promise<{error: unknown; address: unknown}> {
	return new Promise((done) => {
		lookup('seed.example', {all}, (error, address) => done({error, address}));
	});
}

test('the public-only lookup refuses a name that resolves to any local address, one or all asked', async (t) => {
	for (const all of [false, true]) {
		const refused = await resolve(publicOnlyLookup(lookupAnswering(['192.168.1.1']), isLocalAddress), all);
		t.true(refused.error instanceof WebSeedError);
		t.is((refused.error as WebSeedError).kind, 'refused-address');
		t.regex((refused.error as WebSeedError).message, /seed\.example resolves to 192\.168\.1\.1/);
	}

	const mixed = await resolve(
		publicOnlyLookup(lookupAnswering(['93.184.216.34', 'fe80::1']), isLocalAddress),
		true,
	);
	t.true(mixed.error instanceof WebSeedError);
	const fine = await resolve(
		publicOnlyLookup(lookupAnswering(['93.184.216.34', '2606:2800::1']), isLocalAddress),
		true,
	);
	t.is(fine.error, null);
	t.deepEqual(fine.address, [
		{address: '93.184.216.34', family: 4},
		{address: '2606:2800::1', family: 6},
	]);
});
