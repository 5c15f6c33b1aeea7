/**
 * MSE/PE against a real counterpart: a python3-libtorrent seeder set as "require encryption"
 * clients are (RC4 only, plaintext dropped), on 127.0.0.1.
 */
import net from 'node:net';
import test from 'ava';
import {catchError, firstValueFrom, map, of, scan, skipWhile, switchMap, take, timeout, toArray} from 'rxjs';
import {encodeHandshake, ourReservedBytes} from '../../source/codec/handshake.js';
import {cryptoPlaintext, cryptoRc4, req2Hash} from '../../source/codec/mse-crypto.js';
import {encryptedStream} from '../../source/peer/encrypted-stream.js';
import {MseInitiator} from '../../source/peer/mse-initiator.js';
import {MseReceiver} from '../../source/peer/mse-receiver.js';
import {connectTcp, wireFromSocket} from '../../source/peer/socket.js';
import {createTorrent, makePayload, startLibtorrentSeeder, tempDir} from '../helpers/swarm-fixture.js';

const peerId = Buffer.from('-RX0010-mseinterop01');

async function forcedSeeder(t: Parameters<typeof tempDir>[0]) {
	const dir = await tempDir(t);
	const payload = await makePayload(dir, {name: 'mse.bin', length: 256 * 1024});
	const {torrentPath, infoHash} = await createTorrent(payload.path, 'http://127.0.0.1:9/announce', 16 * 1024);
	const seeder = await startLibtorrentSeeder(t, torrentPath, dir, {
		mode: 'seed-quietly',
		encryption: 'forced',
	});
	return {port: seeder.port, infoHash: Buffer.from(infoHash, 'hex')};
}

test('libtorrent requiring encryption takes our MSE/PE handshake and answers with its BitTorrent handshake, in RC4', async (t) => {
	t.timeout(90_000);
	const {port, infoHash} = await forcedSeeder(t);
	const handshake = encodeHandshake({reserved: ourReservedBytes(), infoHash, peerId});
	const answer$ = connectTcp({connectTimeoutMs: 5000})({host: '127.0.0.1', port}).pipe(
		switchMap((wire) =>
			encryptedStream(
				wire,
				new MseInitiator({infoHash, provide: cryptoRc4 | cryptoPlaintext, initialPayload: handshake}),
				{timeoutMs: 10_000},
			),
		),
		switchMap((wire) =>
			wire.incoming$.pipe(
				scan((bytes, chunk) => Buffer.concat([bytes, chunk]), Buffer.alloc(0)),
				skipWhile((bytes) => bytes.length < 68),
				take(1),
				map((bytes) => ({protection: wire.protection, bytes})),
			),
		),
		timeout(20_000),
	);
	const {protection, bytes} = await firstValueFrom(answer$);
	t.is(protection, 'rc4', 'RC4 chosen, though plaintext was offered too');
	t.is(bytes.subarray(0, 20).toString('latin1'), '\x13BitTorrent protocol');
	t.deepEqual(bytes.subarray(28, 48), infoHash);
});

test('the same seeder hangs up on a plaintext handshake: the test above proves encryption, not a lenient peer', async (t) => {
	t.timeout(90_000);
	const {port, infoHash} = await forcedSeeder(t);
	const received$ = connectTcp({connectTimeoutMs: 5000})({host: '127.0.0.1', port}).pipe(
		switchMap((wire) => {
			wire.send(encodeHandshake({reserved: ourReservedBytes(), infoHash, peerId}));
			return wire.incoming$.pipe(
				map((chunk) => chunk.length),
				toArray(),
				catchError(() => of([])),
			);
		}),
		timeout(20_000),
	);
	const lengths = await firstValueFrom(received$);
	t.true(
		lengths.reduce((sum, length) => sum + length, 0) < 68,
		`libtorrent sent ${lengths.join('+')} bytes before closing`,
	);
});

test('a libtorrent leecher requiring encryption dials us: we take its MSE/PE handshake, its BitTorrent handshake inside, and it takes our answer', async (t) => {
	t.timeout(90_000);
	const dir = await tempDir(t);
	const leecherDir = await tempDir(t);
	const payload = await makePayload(dir, {name: 'mse.bin', length: 256 * 1024});
	const {torrentPath, infoHash: hex} = await createTorrent(
		payload.path,
		'http://127.0.0.1:9/announce',
		16 * 1024,
	);
	const infoHash = Buffer.from(hex, 'hex');
	const served = new Map([[req2Hash(infoHash).toString('hex'), infoHash]]);
	const accepted: Array<{protection?: string; handshake: Buffer}> = [];
	const sockets = new Set<net.Socket>();
	const server = net.createServer((socket) => {
		sockets.add(socket);
		const receiver = new MseReceiver({
			served,
			choose: (provided) => (provided & cryptoRc4 ? cryptoRc4 : cryptoPlaintext),
		});
		encryptedStream(wireFromSocket(socket), receiver, {timeoutMs: 10_000})
			.pipe(
				switchMap((wire) =>
					wire.incoming$.pipe(
						scan((bytes, chunk) => Buffer.concat([bytes, chunk]), Buffer.alloc(0)),
						skipWhile((bytes) => bytes.length < 68),
						take(1),
						map((bytes) => {
							// Our handshake back, through the same RC4 stream; libtorrent is ready once it reads it.
							wire.send(encodeHandshake({reserved: ourReservedBytes(), infoHash, peerId}));
							return {protection: wire.protection, handshake: bytes.subarray(0, 68)};
						}),
					),
				),
			)
			.subscribe({next: (result) => accepted.push(result), error: () => socket.destroy()});
	});
	t.teardown(() => {
		for (const socket of sockets) {
			socket.destroy();
		}

		server.close();
	});
	await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
	const {port} = server.address() as net.AddressInfo;
	// Ready only once libtorrent holds the connection past both BitTorrent handshakes.
	await startLibtorrentSeeder(t, torrentPath, leecherDir, {
		mode: 'leech-slowly',
		extra: [String(port), '100000'],
		encryption: 'forced',
		readyTimeoutMs: 30_000,
	});
	t.is(accepted[0]?.protection, 'rc4');
	t.is(accepted[0]?.handshake.subarray(0, 20).toString('latin1'), '\x13BitTorrent protocol');
	t.deepEqual(accepted[0]?.handshake.subarray(28, 48), infoHash);
});
