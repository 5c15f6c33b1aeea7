import test from 'ava';
import {encodeHandshake} from '../../source/codec/handshake.js';
import {cryptoRc4, req2Hash} from '../../source/codec/mse-crypto.js';
import {PeerProtocolError} from '../../source/errors.js';
import {IncomingHandshake} from '../../source/peer/incoming-handshake.js';
import {MseInitiator} from '../../source/peer/mse-initiator.js';
import {MseReceiver} from '../../source/peer/mse-receiver.js';

const infoHash = Buffer.alloc(20, 0x11);
const served = new Map([[req2Hash(infoHash).toString('hex'), infoHash]]);
const plaintext = encodeHandshake({reserved: Buffer.alloc(8), infoHash, peerId: Buffer.alloc(20, 0x22)});
const both = {plaintext: true, encrypted: () => new MseReceiver({served, choose: () => cryptoRc4})};

test('a plaintext handshake, in pieces of any size: plaintext once 20 bytes say so, every byte kept', (t) => {
	for (let size = 1; size <= plaintext.length; size++) {
		const incoming = new IncomingHandshake(both);
		let done: ReturnType<IncomingHandshake['receive']>['done'];
		let read = 0;
		while (!done && read < plaintext.length) {
			done = incoming.receive(plaintext.subarray(read, read + size)).done;
			read += size;
		}

		t.is(done?.protection, 'plaintext', `pieces of ${size}`);
		t.deepEqual(
			done?.payload,
			plaintext.subarray(0, Math.max(20, Math.min(plaintext.length, size * Math.ceil(20 / size)))),
		);
	}
});

test('an MSE/PE caller, a byte at a time at first: the receiver takes over with every byte', (t) => {
	const a = new MseInitiator({infoHash, provide: cryptoRc4, initialPayload: plaintext});
	const incoming = new IncomingHandshake(both);
	const first = a.start();
	const sends = [...first].flatMap((byte) => incoming.receive(Buffer.of(byte)).send);
	t.is(sends.length, 1, 'Yb and PadB, once Ya is in');
	const [request] = a.receive(sends[0] ?? Buffer.alloc(0)).send;
	const step = incoming.receive(request ?? Buffer.alloc(0));
	t.is(step.done?.protection, 'rc4');
	t.deepEqual(step.done?.payload, plaintext);
});

test('the policies: plaintext refused when encryption is required, MSE/PE refused when it is off', (t) => {
	t.throws(() => new IncomingHandshake({...both, plaintext: false}).receive(plaintext), {
		instanceOf: PeerProtocolError,
		message: /encryption is required/,
	});
	const a = new MseInitiator({infoHash, provide: cryptoRc4, initialPayload: plaintext});
	t.throws(() => new IncomingHandshake({plaintext: true}).receive(a.start()), {
		instanceOf: PeerProtocolError,
		message: /MSE\/PE is off/,
	});
});

test('the decision comes at the first byte that differs from a plaintext handshake', (t) => {
	const incoming = new IncomingHandshake({plaintext: true});
	t.deepEqual(incoming.receive(Buffer.from('\x13BitTorrent')).send, []);
	t.throws(() => incoming.receive(Buffer.from(' Protocol')), {message: /not a BitTorrent handshake/});
});
