import test from 'ava';
import {decodeBencode, encodeBencode, rawDictionaryValue} from '../../source/codec/bencode.js';
import {MetainfoError} from '../../source/errors.js';

const bytes = (text: string) => Buffer.from(text, 'latin1');

test('decodes every bencode type', (t) => {
	const value = decodeBencode(bytes('d4:listli1ei-2e3:abce3:numi42e3:str5:helloe'));
	t.deepEqual(value, {
		list: [1, -2, new Uint8Array(bytes('abc'))],
		num: 42,
		str: new Uint8Array(bytes('hello')),
	});
});

test('round-trips through encode', (t) => {
	const encoded = encodeBencode({b: 1, a: [Buffer.from('x'), 2]});
	t.is(encoded.toString('latin1'), 'd1:al1:xi2ee1:bi1ee');
});

test('finds the exact bytes of a top-level key, nested containers included', (t) => {
	const data = bytes('d8:announce3:url4:infod4:name1:x5:filesld6:lengthi3eeee7:comment1:ce');
	t.is(
		Buffer.from(rawDictionaryValue(data, 'info') ?? []).toString('latin1'),
		'd4:name1:x5:filesld6:lengthi3eeee',
	);
	t.is(rawDictionaryValue(data, 'missing'), undefined);
});

for (const [what, text] of [
	['truncated input', 'd4:info'],
	['trailing bytes', 'i1ei2e'],
	['a leading zero', 'i01e'],
	['a negative zero', 'i-0e'],
	['a string longer than the data', '10:abc'],
	['a bad length', '1x:a'],
	['an unterminated list', 'li1e'],
	['an end marker with nothing open', 'e'],
	['a non-string key', 'di1ei2ee'],
] as const) {
	test(`rejects ${what} with a MetainfoError`, (t) => {
		t.throws(() => decodeBencode(bytes(text)), {instanceOf: MetainfoError});
	});
}

test('rejects nesting deeper than any real document, without overflowing the stack', (t) => {
	const deep = bytes(`${'l'.repeat(100_000)}${'e'.repeat(100_000)}`);
	t.throws(() => decodeBencode(deep), {instanceOf: MetainfoError, message: /nested too deeply/});
});
