/**
 * A scriptable hostile peer for the fault tests of issue 7: it speaks enough BitTorrent to get
 * a connection going, then misbehaves as its script says (garbage handshakes, lying bitfields,
 * blocks nobody asked for, bad data, silence, floods). The same script runs over a real TCP
 * socket on 127.0.0.1 (torrent-rx dials it, or it dials torrent-rx) or, in process, behind the
 * `ConnectPort` interface, where `asyncScheduler` is virtual inside `TestScheduler.run`.
 *
 * Each connection keeps a log of what torrent-rx sent and who closed the connection, so a test
 * can assert that torrent-rx, not the script, hung up.
 */
import net from 'node:net';
import {asyncScheduler, NEVER, Observable, Subject, type Subscription} from 'rxjs';
import {encodeMetadataMessage, ourExtensions} from '../../source/codec/extension-protocol.js';
import {
	encodeHandshake,
	extensionProtocolBit,
	fastExtensionBit,
	type Handshake,
	plaintextHandshakeStart,
} from '../../source/codec/handshake.js';
import {blockLength, encodeMessage, type PeerMessage} from '../../source/codec/messages.js';
import {frameWire, type WireFrame} from '../../source/peer/framer.js';
import type {ConnectPort, PeerWire} from '../../source/peer/transport.js';
import {listenOnLoopback, type Teardown} from './swarm-fixture.js';

/** What a hostile peer pretends to serve: the payload (all files, in order), its piece length and info hash. */
export type HostileTorrent = {infoHash: Buffer; pieceLength: number; payload: Buffer};

export type BlockRequest = {index: number; begin: number; length: number};

/** What torrent-rx did on one connection, as the hostile peer saw it. */
export type ConnectionLog = {
	/** torrent-rx's handshake, once it arrived. */
	handshake?: Handshake;
	/** Messages from torrent-rx, counted by type. */
	counts: Partial<Record<PeerMessage['type'], number>>;
	/** The first requests torrent-rx sent (at most 10,000 kept). */
	requests: BlockRequest[];
	bytesReceived: number;
	bytesSent: number;
	/** Milestones the script reached, such as `flood done`. */
	marks: string[];
	/** Who ended the connection: torrent-rx (`remote`), or the script (`local`). */
	closedBy?: 'remote' | 'local';
	/** Resolves once the connection is gone, whoever closed it. */
	closed: Promise<void>;
};

/** The byte pipe under a hostile connection: a TCP socket or an in-memory wire. */
type Transport = {
	write(bytes: Buffer): boolean;
	/** Calls `resume` once the transport can take more (at once if it can now). */
	whenDrained(resume: () => void): void;
	close(): void;
	/** Stops reading what torrent-rx sends (a peer that never reads its socket). */
	stopReading(): void;
};

/** Helpers a script works with; everything stops once the connection is closed. */
export class HostileWire {
	readonly log: ConnectionLog;
	readonly pieceCount: number;
	readonly #subscriptions: Subscription[] = [];
	#closed = false;
	#markClosed!: () => void;

	constructor(
		readonly torrent: HostileTorrent,
		readonly transport: Transport,
	) {
		this.pieceCount = Math.ceil(torrent.payload.length / torrent.pieceLength);
		this.log = {
			counts: {},
			requests: [],
			marks: [],
			bytesReceived: 0,
			bytesSent: 0,
			closed: new Promise<void>((resolve) => {
				this.#markClosed = resolve;
			}),
		};
	}

	get closed(): boolean {
		return this.#closed;
	}

	/** Raw bytes; false when the transport wants us to wait for it to drain. */
	send(bytes: Buffer): boolean {
		if (this.#closed) {
			return false;
		}

		this.log.bytesSent += bytes.length;
		return this.transport.write(bytes);
	}

	message(...messages: PeerMessage[]): boolean {
		return this.send(Buffer.concat(messages.map(encodeMessage)));
	}

	/** A handshake for this torrent with the fast extension bit, unless `overrides` say otherwise. */
	handshake(overrides: Partial<Handshake> = {}): boolean {
		const reserved = Buffer.alloc(8);
		reserved.writeUInt8(fastExtensionBit.mask, fastExtensionBit.byte);
		return this.send(
			encodeHandshake({
				reserved,
				infoHash: this.torrent.infoHash,
				peerId: Buffer.from('-HS0001-hostilepeer!'),
				...overrides,
			}),
		);
	}

	/** A bitfield of exactly ⌈pieces/8⌉ bytes with the pieces `has` says, spare bits clear. */
	bitfield(has: (index: number) => boolean = () => true): Buffer {
		const bytes = Buffer.alloc(Math.ceil(this.pieceCount / 8));
		for (let index = 0; index < this.pieceCount; index++) {
			if (has(index)) {
				bytes[index >> 3] = (bytes[index >> 3] ?? 0) | (0x80 >> (index & 7));
			}
		}

		return bytes;
	}

	/** The honest bytes of a block (a copy: scripts may spoil it). */
	block({index, begin, length}: BlockRequest): Buffer {
		const start = index * this.torrent.pieceLength + begin;
		return Buffer.from(this.torrent.payload.subarray(start, start + length));
	}

	/** The piece message answering `request` honestly. */
	answer(request: BlockRequest): boolean {
		return this.message({
			type: 'piece',
			index: request.index,
			begin: request.begin,
			block: this.block(request),
		});
	}

	/** Runs `work` after `ms` (virtual in a TestScheduler), unless the connection is gone by then. */
	later(ms: number, work: () => void): void {
		this.#subscriptions.push(
			asyncScheduler.schedule(() => {
				if (!this.#closed) {
					work();
				}
			}, ms),
		);
	}

	/** Runs `work` every `ms` until it returns false or the connection is gone. */
	every(ms: number, work: () => boolean): void {
		this.later(ms, () => {
			if (work()) {
				this.every(ms, work);
			}
		});
	}

	/**
	 * Writes `chunk` `times` times as fast as the transport drains (so the flood costs this
	 * process no memory), then marks the log `flood done`.
	 */
	flood(chunk: Buffer, times: number): void {
		let left = times;
		const pump = () => {
			while (left > 0 && !this.#closed) {
				left--;
				if (!this.send(chunk)) {
					this.transport.whenDrained(pump);
					return;
				}
			}

			if (left === 0) {
				this.log.marks.push('flood done');
			}
		};

		pump();
	}

	stopReading(): void {
		this.transport.stopReading();
	}

	/** Hangs up (the log records that we did). */
	close(): void {
		if (!this.#closed) {
			this.log.closedBy ??= 'local';
			this.transport.close();
			this.ended('local');
		}
	}

	/** The transport is gone: called by the transports, once. */
	ended(by: 'remote' | 'local'): void {
		if (this.#closed) {
			return;
		}

		this.#closed = true;
		this.log.closedBy ??= by;
		for (const subscription of this.#subscriptions) {
			subscription.unsubscribe();
		}

		this.#markClosed();
	}

	received(frame: WireFrame): void {
		if (frame.type === 'handshake') {
			this.log.handshake = frame.handshake;
			return;
		}

		this.log.counts[frame.type] = (this.log.counts[frame.type] ?? 0) + 1;
		if (frame.type === 'request' && this.log.requests.length < 10_000) {
			this.log.requests.push({index: frame.index, begin: frame.begin, length: frame.length});
		}
	}
}

/**
 * How a hostile peer behaves. Every hook has an honest default (see `honest`): a handshake as
 * soon as the connection is up, a full bitfield and an unchoke after torrent-rx's handshake,
 * the right block for every request.
 */
export type HostileScript = {
	/** The connection is up; nothing has arrived yet. */
	connected?(wire: HostileWire): void;
	/** torrent-rx's handshake arrived. */
	handshake?(wire: HostileWire, handshake: Handshake): void;
	/** torrent-rx asked for a block. */
	request?(wire: HostileWire, request: BlockRequest): void;
	/** Any other message from torrent-rx. */
	message?(wire: HostileWire, message: PeerMessage): void;
};

/** A seed's greeting: every piece, and unchoked. */
function greet(wire: HostileWire): void {
	wire.message({type: 'bitfield', bitfield: wire.bitfield()}, {type: 'unchoke'});
}

export const honest: Required<HostileScript> = {
	connected: (wire) => wire.handshake(),
	handshake: greet,
	request: (wire, request) => wire.answer(request),
	message: () => undefined,
};

/** A script with `overrides` on top of the honest peer. */
export function script(overrides: HostileScript): Required<HostileScript> {
	return {...honest, ...overrides};
}

/** Feeds what torrent-rx sends through the framer and on to the script. */
function attach(wire: HostileWire, behaviour: HostileScript): (bytes: Buffer) => void {
	const run = script(behaviour);
	const incoming$ = new Subject<Buffer>();
	incoming$.pipe(frameWire(1 << 20)).subscribe({
		next(frame) {
			wire.received(frame);
			if (wire.closed) {
				return;
			}

			if (frame.type === 'handshake') {
				run.handshake(wire, frame.handshake);
			} else if (frame.type === 'request') {
				run.request(wire, {index: frame.index, begin: frame.begin, length: frame.length});
			} else {
				run.message(wire, frame);
			}
		},
		// torrent-rx sent something we cannot frame: not our business, only log it.
		error: () => undefined,
	});
	run.connected(wire);
	return (bytes) => {
		wire.log.bytesReceived += bytes.length;
		incoming$.next(bytes);
	};
}

function socketWire(socket: net.Socket, torrent: HostileTorrent, behaviour: HostileScript): HostileWire {
	const wire = new HostileWire(torrent, {
		write: (bytes) => socket.write(bytes),
		whenDrained(resume) {
			if (socket.writableNeedDrain) {
				socket.once('drain', resume);
			} else {
				setImmediate(resume);
			}
		},
		close: () => socket.destroy(),
		stopReading() {
			socket.removeAllListeners('data');
			socket.pause();
		},
	});
	// A reset from torrent-rx is an ordinary way for it to drop us.
	socket.on('error', () => undefined);
	socket.once('end', () => {
		wire.ended('remote');
		socket.destroy();
	});
	socket.once('close', () => wire.ended('remote'));
	const feed = attach(wire, behaviour);
	socket.on('data', feed);
	return wire;
}

export type HostileServer = {
	port: number;
	/** One log per plaintext connection torrent-rx made, in order. */
	connections: ConnectionLog[];
	/** Connections that opened with MSE/PE, hung up on as a client without it does. */
	encryptedAttempts: () => number;
	/** Resolves with the first connection's log once torrent-rx has connected. */
	firstConnection: Promise<ConnectionLog>;
	stop(): Promise<void>;
};

/**
 * Listens on 127.0.0.1 (a port the kernel picks) and runs `behaviour` on every connection
 * torrent-rx makes to it; closed with the test.
 */
export async function listenHostile(
	t: Teardown,
	torrent: HostileTorrent,
	behaviour: HostileScript,
): Promise<HostileServer> {
	const sockets = new Set<net.Socket>();
	const connections: ConnectionLog[] = [];
	let first!: (log: ConnectionLog) => void;
	const firstConnection = new Promise<ConnectionLog>((resolve) => {
		first = resolve;
	});
	let encryptedAttempts = 0;
	const server = net.createServer({noDelay: true}, (socket) => {
		sockets.add(socket);
		socket.once('close', () => sockets.delete(socket));
		readsPlaintextStart(socket, (plaintext) => {
			if (!plaintext) {
				encryptedAttempts += 1;
				socket.destroy();
				return;
			}

			const {log} = socketWire(socket, torrent, behaviour);
			connections.push(log);
			first(log);
		});
	});
	const {port, stop} = await listenOnLoopback(t, server, 'the hostile peer', () => {
		for (const socket of sockets) {
			socket.destroy();
		}
	});
	return {port, connections, encryptedAttempts: () => encryptedAttempts, firstConnection, stop};
}

/**
 * Waits for the dialler's first 20 bytes, as a client that reads before it speaks does, and
 * tells `decided` whether they open a plaintext handshake; they are put back to be read again.
 * The hostile peers are clients without MSE/PE: they hang up on torrent-rx's encrypted first try.
 */
function readsPlaintextStart(socket: net.Socket, decided: (plaintext: boolean) => void): void {
	let seen = Buffer.alloc(0);
	const onData = (chunk: Buffer) => {
		seen = Buffer.concat([seen, chunk]);
		const compared = Math.min(seen.length, plaintextHandshakeStart.length);
		const plaintext = seen.subarray(0, compared).equals(plaintextHandshakeStart.subarray(0, compared));
		if (plaintext && compared < plaintextHandshakeStart.length) {
			return;
		}

		socket.off('data', onData);
		socket.pause();
		socket.unshift(seen);
		decided(plaintext);
		socket.resume();
	};
	socket.on('data', onData);
}

/**
 * Dials torrent-rx at 127.0.0.1:`port` and runs `behaviour` once connected; closed with the
 * test. `peer` is how torrent-rx names us in its events.
 */
export async function dialHostile(
	t: Teardown,
	port: number,
	torrent: HostileTorrent,
	behaviour: HostileScript,
): Promise<{log: ConnectionLog; peer: string}> {
	const socket = net.connect({host: '127.0.0.1', port, noDelay: true});
	t.teardown(() => socket.destroy());
	await new Promise<void>((resolve, reject) => {
		socket.once('connect', resolve);
		socket.once('error', reject);
	});
	return {log: socketWire(socket, torrent, behaviour).log, peer: `127.0.0.1:${socket.localPort}`};
}

/**
 * The hostile peer behind torrent-rx's `ConnectPort`, for sessions run in process: its bytes
 * reach torrent-rx `latencyMs` after it sends them (scheduled on `asyncScheduler`, so virtual
 * inside `TestScheduler.run`); torrent-rx's reach it at once.
 */
export function hostileConnectPort(
	torrent: HostileTorrent,
	behaviour: HostileScript,
	{latencyMs = 1}: {latencyMs?: number} = {},
): ConnectPort & {connections: ConnectionLog[]} {
	const connections: ConnectionLog[] = [];
	const connect: ConnectPort = () =>
		new Observable<PeerWire>((subscriber) => {
			const incoming$ = new Subject<Buffer>();
			let reading = true;
			const pending = new Set<Subscription>();
			const deliver = (work: () => void) => {
				const scheduled = asyncScheduler.schedule(() => {
					pending.delete(scheduled);
					work();
				}, latencyMs);
				pending.add(scheduled);
			};

			const wire = new HostileWire(torrent, {
				write(bytes) {
					deliver(() => incoming$.next(bytes));
					return true;
				},
				whenDrained: (resume) => deliver(resume),
				// What was sent before the hang-up still arrives, then the end.
				close: () => deliver(() => incoming$.complete()),
				stopReading() {
					reading = false;
				},
			});
			connections.push(wire.log);
			const feed = attach(wire, behaviour);
			subscriber.next({
				incoming$,
				send(bytes) {
					if (reading && !wire.closed) {
						feed(bytes);
					}

					return true;
				},
				drained$: NEVER,
			});
			return () => {
				for (const scheduled of pending) {
					scheduled.unsubscribe();
				}

				wire.ended('remote');
			};
		});
	return Object.assign(connect, {connections});
}

/** A request's piece message bytes, for scripts that send it in parts. */
export function pieceMessage(wire: HostileWire, request: BlockRequest, block = wire.block(request)): Buffer {
	return encodeMessage({type: 'piece', index: request.index, begin: request.begin, block});
}

/** Bytes no one would take for a block of this torrent. */
export function garbage(length: number, seed = 0xee): Buffer {
	const bytes = Buffer.alloc(length);
	for (let offset = 0; offset < length; offset++) {
		bytes[offset] = (seed + offset * 31) & 0xff;
	}

	return bytes;
}

/**
 * The misbehaviours of issue 7, each a script. Names are what the fault table in the README
 * calls them.
 */
export const hostile = {
	/**
	 * 700 bytes that are not a BitTorrent handshake: dialled, it is refused as one; calling us,
	 * it is taken for an MSE/PE key and padding (as libtorrent takes it), and refused when no MSE
	 * request comes within the 512 bytes of padding allowed.
	 */
	garbageHandshake: script({
		connected: (wire) => wire.send(garbage(700, 0x47)),
	}),
	/** A well-formed handshake for some other torrent. */
	wrongInfoHash: script({
		connected: (wire) => wire.handshake({infoHash: Buffer.alloc(20, 0xab)}),
	}),
	/** A message whose length prefix says 2 GiB follows. */
	hugeLengthPrefix: script({
		handshake(wire) {
			const prefix = Buffer.alloc(5);
			prefix.writeUInt32BE(2 ** 31, 0);
			prefix.writeUInt8(7, 4);
			wire.send(prefix);
		},
	}),
	/** A bitfield one byte too long. */
	bitfieldWrongLength: script({
		handshake: (wire) =>
			wire.message(
				{type: 'bitfield', bitfield: Buffer.concat([wire.bitfield(), Buffer.of(0)])},
				{type: 'unchoke'},
			),
	}),
	/** A bitfield with the bits past the last piece set (the torrent must not have a multiple of 8 pieces). */
	bitfieldSpareBits: script({
		handshake: (wire) =>
			wire.message({type: 'bitfield', bitfield: wire.bitfield().fill(0xff)}, {type: 'unchoke'}),
	}),
	/** `have` for the piece one past the last. */
	haveOutOfRange: script({
		handshake: (wire) => wire.message({type: 'have', index: wire.pieceCount}),
	}),
	/** A block sent as soon as torrent-rx's handshake is in, before anything was asked. */
	unrequestedBlock: script({
		// Before the unchoke, so that torrent-rx cannot have asked for it yet.
		handshake: (wire) =>
			wire.message(
				{type: 'bitfield', bitfield: wire.bitfield()},
				{type: 'piece', index: 0, begin: 0, block: wire.block({index: 0, begin: 0, length: blockLength})},
				{type: 'unchoke'},
			),
	}),
	/** The requested block, one byte further into the piece. */
	misalignedBlock: script({
		request: (wire, request) =>
			wire.message({
				type: 'piece',
				index: request.index,
				begin: request.begin + 1,
				block: wire.block(request),
			}),
	}),
	/** The requested block at its offset, one byte short. */
	shortBlock: script({
		request: (wire, request) =>
			wire.message({
				type: 'piece',
				index: request.index,
				begin: request.begin,
				block: wire.block(request).subarray(1),
			}),
	}),
	/**
	 * Garbage for each requested block, filed under a lower piece nobody asked us for, at an
	 * offset past that piece's end such that `index · blocksPerPiece + begin / 16 KiB` is the
	 * requested block's. Requests for which there is no such piece go unanswered.
	 */
	aliasedBlock: script({
		request(wire, request) {
			const asked = new Set(wire.log.requests.map((each) => each.index));
			let index = 0;
			while (asked.has(index)) {
				index++;
			}

			if (index >= request.index) {
				// Every lower piece was asked for (pieces are picked in order here): alias the one below.
				index = request.index - 1;
			}

			if (index < 0) {
				return;
			}

			const blocksPerPiece = Math.ceil(wire.torrent.pieceLength / blockLength);
			const begin = ((request.index - index) * blocksPerPiece + request.begin / blockLength) * blockLength;
			wire.message({type: 'piece', index, begin, block: garbage(request.length)});
		},
	}),
	/** Every block garbage: every piece fails its hash. */
	badData: script({
		request: (wire, request) =>
			wire.message({
				type: 'piece',
				index: request.index,
				begin: request.begin,
				block: garbage(request.length),
			}),
	}),
	/**
	 * Every third piece it is asked for garbage, the others honest: pieces are finished in the
	 * order they are asked for, so two pass the hash check for every one that fails.
	 */
	sometimesBadData: script({
		// A peer id of its own: the other liar's ban must not catch it by its id before its own strikes do.
		connected: (wire) => wire.handshake({peerId: Buffer.from('-HS0001-sometimesbad')}),
		request(wire, request) {
			const order = [...new Set(wire.log.requests.map((each) => each.index))].indexOf(request.index);
			if (order % 3 === 2) {
				wire.message({
					type: 'piece',
					index: request.index,
					begin: request.begin,
					block: garbage(request.length),
				});
			} else {
				wire.answer(request);
			}
		},
	}),
	/**
	 * Garbage for the first block of each piece it is asked for and nothing for the rest; once
	 * asked for `pieces` pieces it hangs up, leaving them half done with its garbage in them.
	 */
	poisonHalfPieces: script({
		request(wire, request) {
			if (request.begin === 0) {
				wire.message({type: 'piece', index: request.index, begin: 0, block: garbage(request.length)});
			}

			if (new Set(wire.log.requests.map((each) => each.index)).size >= 6) {
				wire.later(5, () => wire.close());
			}
		},
	}),
	/** Unchokes, then never answers a request. */
	silent: script({request: () => undefined}),
	/** Answers the first request one byte a second, and no other. */
	trickle: script({
		request(wire, request) {
			if (wire.log.requests.length > 1) {
				return;
			}

			const bytes = pieceMessage(wire, request);
			let sent = 0;
			wire.every(1000, () => {
				wire.send(bytes.subarray(sent, sent + 1));
				sent++;
				return sent < bytes.length;
			});
		},
	}),
	/** Answers the first block of the first piece asked for, half of the second, then hangs up. */
	disconnectMidPiece: script({
		request(wire, request) {
			if (wire.log.requests.length === 1) {
				wire.answer(request);
				return;
			}

			const bytes = pieceMessage(wire, request);
			wire.send(bytes.subarray(0, bytes.length >> 1));
			wire.close();
		},
	}),
	/** No pieces; 1 million keep-alives (4 MiB) as fast as torrent-rx reads them. */
	keepAliveFlood: script({
		handshake: (wire) => wire.flood(Buffer.alloc(64 * 1024), 64),
	}),
	/**
	 * Every piece announced one `have` at a time, again and again: a million `have` messages. It
	 * answers no request.
	 */
	haveFlood: script({
		request: () => undefined,
		handshake(wire) {
			const haves = Buffer.concat(
				Array.from({length: wire.pieceCount}, (_, index) => encodeMessage({type: 'have', index})),
			);
			const chunk = Buffer.concat(Array.from({length: Math.ceil(10_000 / wire.pieceCount)}, () => haves));
			wire.flood(chunk, Math.ceil(1_000_000 / (chunk.length / 9)));
		},
	}),
	/** A seed that, once connected, asks for the first block of piece 0 a hundred thousand times. */
	requestFlood: script({
		handshake(wire) {
			greet(wire);
			const request = encodeMessage({type: 'request', index: 0, begin: 0, length: blockLength});
			wire.flood(Buffer.concat(Array.from({length: 1000}, () => request)), 100);
		},
	}),
} satisfies Record<string, Required<HostileScript>>;

/**
 * Misbehaving leechers, for torrent-rx seeding: they dial in, have nothing, and ask for what
 * they should not.
 */
export const leecher = {
	/** Interested, then `request` at once, whatever torrent-rx has or says. */
	asking: (request: BlockRequest) =>
		script({
			handshake: (wire) => wire.message({type: 'interested'}, {type: 'request', ...request}),
		}),
	/**
	 * Interested; once unchoked it stops reading its socket and sends `count` requests, cycling
	 * over `requests`, as fast as torrent-rx takes them. With `fast` it has said it speaks BEP 6,
	 * so torrent-rx answers each request it drops with a reject.
	 */
	requestFlood: ({requests, count, fast}: {requests: BlockRequest[]; count: number; fast: boolean}) =>
		script({
			connected: (wire) => wire.handshake(fast ? {} : {reserved: Buffer.alloc(8)}),
			handshake: (wire) => wire.message({type: 'interested'}),
			message(wire, message) {
				if (message.type !== 'unchoke' || wire.log.marks.includes('flooding')) {
					return;
				}

				wire.log.marks.push('flooding');
				wire.stopReading();
				const chunk = Buffer.concat(
					Array.from({length: 1000}, (_, n) =>
						encodeMessage({type: 'request', ...(requests[n % requests.length] as BlockRequest)}),
					),
				);
				wire.flood(chunk, Math.ceil(count / 1000));
			},
		}),
	/**
	 * Says it speaks BEP 10 and ut_metadata, then stops reading and asks for the info dictionary's
	 * first piece `count` times (BEP 9), as fast as torrent-rx takes the requests.
	 */
	metadataFlood: ({count}: {count: number}) =>
		script({
			connected(wire) {
				const reserved = Buffer.alloc(8);
				reserved.writeUInt8(extensionProtocolBit.mask, extensionProtocolBit.byte);
				wire.handshake({reserved});
			},
			handshake(wire) {
				wire.message({type: 'extended', extension: 0, payload: Buffer.from('d1:md11:ut_metadatai3eee')});
				wire.stopReading();
				const request = encodeMessage({
					type: 'extended',
					extension: ourExtensions.ut_metadata,
					payload: encodeMetadataMessage({kind: 'request', piece: 0}),
				});
				wire.flood(Buffer.concat(Array.from({length: 1000}, () => request)), Math.ceil(count / 1000));
			},
		}),
} satisfies Record<string, (...args: never[]) => Required<HostileScript>>;
