import {execFileSync} from 'node:child_process';
import {randomBytes} from 'node:crypto';
import process from 'node:process';
import test from 'ava';
import {Rc4} from '../../source/codec/rc4.js';

const encrypt = (key: string | Buffer, plaintext: string | Buffer) => {
	const data = Buffer.from(plaintext);
	new Rc4(Buffer.from(key)).apply(data);
	return data.toString('hex');
};

test('the classic test vectors', (t) => {
	t.is(encrypt('Key', 'Plaintext'), 'bbf316e8d940af0ad3');
	t.is(encrypt('Wiki', 'pedia'), '1021bf0420');
	t.is(encrypt('Secret', 'Attack at dawn'), '45a01f645fc35b383552544b9bf5');
});

test('RFC 6229: the keystream of a 40-bit key at offsets 0 and 1024 (after MSE’s discard)', (t) => {
	const keystream = Buffer.alloc(1040);
	new Rc4(Buffer.from('0102030405', 'hex')).apply(keystream);
	t.is(keystream.subarray(0, 16).toString('hex'), 'b2396305f03dc027ccc3524a0a1118a8');
	t.is(keystream.subarray(1024, 1040).toString('hex'), '30abbcc7c20b01609f23ee2d5f6bb7df');
	const dropped = new Rc4(Buffer.from('0102030405', 'hex'));
	dropped.discard(1024);
	const after = Buffer.alloc(16);
	dropped.apply(after);
	t.is(after.toString('hex'), '30abbcc7c20b01609f23ee2d5f6bb7df');
});

test('any split of the stream, at any alignment, gives the bytes of one call', (t) => {
	const key = randomBytes(20);
	const plaintext = randomBytes(301);
	const whole = Buffer.from(plaintext);
	new Rc4(key).apply(whole);
	for (let offset = 0; offset < 4; offset++) {
		for (let split = 0; split <= plaintext.length; split += 7) {
			const backing = Buffer.alloc(plaintext.length + offset);
			const data = backing.subarray(offset);
			plaintext.copy(data);
			const cipher = new Rc4(key);
			cipher.apply(data.subarray(0, split));
			cipher.apply(data.subarray(split, split + 5));
			cipher.apply(data.subarray(split + 5));
			t.true(data.equals(whole), `offset ${offset}, split ${split}`);
		}
	}
});

test('the same bytes as OpenSSL’s RC4 (its legacy provider), 64 KiB with a 20-byte key', (t) => {
	const key = randomBytes(20);
	const plaintext = randomBytes(64 * 1024);
	const ours = Buffer.from(plaintext);
	new Rc4(key).apply(ours);
	const script =
		"const c=require('node:crypto');process.stdout.write(c.createCipheriv('rc4',Buffer.from(process.argv[1],'hex'),null).update(require('node:fs').readFileSync(0)).toString('hex'))";
	const openssl = execFileSync(
		process.execPath,
		['--openssl-legacy-provider', '-e', script, key.toString('hex')],
		{
			input: plaintext,
			timeout: 20_000,
		},
	).toString();
	t.is(openssl, ours.toString('hex'));
});

test('a key of 0 or more than 256 bytes is refused', (t) => {
	t.throws(() => new Rc4(Buffer.alloc(0)), {instanceOf: RangeError});
	t.throws(() => new Rc4(Buffer.alloc(257)), {instanceOf: RangeError});
});
