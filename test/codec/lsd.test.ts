import test from 'ava';
import {decodeLsdAnnounce, encodeLsdAnnounce} from '../../source/codec/lsd.js';

const hash = 'ab'.repeat(20);

test('a BT-SEARCH message as BEP 14 writes it, and back', (t) => {
	const packet = encodeLsdAnnounce({port: 6881, infoHashes: [hash], cookie: 'c00k1e'});
	t.is(
		packet.toString('latin1'),
		`BT-SEARCH * HTTP/1.1\r\nHost: 239.192.152.143:6771\r\nPort: 6881\r\nInfohash: ${hash}\r\ncookie: c00k1e\r\n\r\n\r\n`,
	);
	t.deepEqual(decodeLsdAnnounce(packet), {port: 6881, infoHashes: [hash], cookie: 'c00k1e'});
});

test('several info hashes, any header case, bare newlines, upper-case hex', (t) => {
	const packet = Buffer.from(
		`BT-SEARCH * HTTP/1.1\nhost: x\nPORT: 51413\ninfohash: ${hash.toUpperCase()}\nInfohash: ${'cd'.repeat(20)}\n\n`,
	);
	t.deepEqual(decodeLsdAnnounce(packet), {port: 51413, infoHashes: [hash, 'cd'.repeat(20)]});
});

test('anything else is ignored, not an error', (t) => {
	for (const text of [
		'',
		'GET / HTTP/1.1\r\n\r\n',
		`BT-SEARCH * HTTP/1.1\r\nInfohash: ${hash}\r\n\r\n`,
		'BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\n\r\n',
		`BT-SEARCH * HTTP/1.1\r\nPort: 70000\r\nInfohash: ${hash}\r\n\r\n`,
		`BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\nInfohash: xyz\r\n\r\n`,
		`BT-SEARCH * HTTP/1.1\r\nPort: 6881\r\nInfohash: ${hash}\r\n${'x'.repeat(2000)}`,
	]) {
		t.is(decodeLsdAnnounce(Buffer.from(text)), undefined, JSON.stringify(text.slice(0, 40)));
	}
});
