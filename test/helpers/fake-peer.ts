import {createHash} from 'node:crypto';
import {asyncScheduler, NEVER, Observable, of, Subject, Subscription} from 'rxjs';
import {encodeHandshake} from '../../source/codec/handshake.js';
import {encodeMessage, type PeerMessage} from '../../source/codec/messages.js';
import {PieceHashes} from '../../source/codec/piece-hashes.js';
import {frameWire, type WireFrame} from '../../source/peer/framer.js';
import type {ConnectPort, PeerWire} from '../../source/peer/transport.js';
import type {PieceStore} from '../../source/storage/disk.js';

/** A small torrent in memory: its payload, pieces and their hashes. */
export function makeTorrent(length: number, pieceLength: number) {
	const payload = Buffer.alloc(length);
	for (let index = 0; index < length; index++) {
		payload[index] = (index * 7 + (index >> 8)) & 0xff;
	}

	const pieceCount = Math.ceil(length / pieceLength);
	const pieces = Array.from({length: pieceCount}, (_, index) =>
		payload.subarray(index * pieceLength, Math.min(length, (index + 1) * pieceLength)),
	);
	return {
		payload,
		pieceLength,
		pieces,
		pieceHashes: PieceHashes.of(pieces.map((piece) => createHash('sha1').update(piece).digest())),
		infoHash: createHash('sha1').update(`torrent of ${length}/${pieceLength}`).digest(),
	};
}

export type FakePeerBehaviour = {
	infoHash: Buffer;
	pieces: Buffer[];
	/** Answer blocks of these pieces with flipped bytes; `times` how often (default: always). */
	corrupt?: {pieces: number[]; times?: number};
	/** Choke us after this many blocks, unchoke again `unchokeAfterMs` later. */
	chokeAfterBlocks?: number;
	unchokeAfterMs?: number;
	/** Instead of the requested block, send one nobody asked for. */
	sendUnrequested?: boolean;
	/** Raw bytes sent right after the handshake. */
	extraBytes?: Buffer;
	/** Never answer requests. */
	silent?: boolean;
	/** Virtual (or real) milliseconds before each answer. */
	latencyMs?: number;
};

/**
 * A scripted remote peer behind the ConnectPort interface: it parses what we send with the
 * same framer torrent-rx uses, and answers asynchronously (as a socket would), so a session
 * can be driven end to end in virtual time.
 */
export function fakePeer(behaviour: FakePeerBehaviour): ConnectPort & {connections: number} {
	const latency = behaviour.latencyMs ?? 1;
	let corruptionsLeft = behaviour.corrupt?.times ?? Number.POSITIVE_INFINITY;
	const connect = ((_peer: unknown) =>
		new Observable<PeerWire>((subscriber) => {
			connect.connections++;
			let blocksSent = 0;
			const subscription = new Subscription();
			const incoming$ = new Subject<Buffer>();
			const outgoing$ = new Subject<Buffer>();
			const reply = (bytes: Buffer, delay = latency) => {
				subscription.add(asyncScheduler.schedule(() => incoming$.next(bytes), delay));
			};

			const send = (message: PeerMessage, delay?: number) => reply(encodeMessage(message), delay);
			const bitfield = Buffer.alloc(Math.ceil(behaviour.pieces.length / 8));
			for (let index = 0; index < behaviour.pieces.length; index++) {
				bitfield[index >> 3] = (bitfield[index >> 3] ?? 0) | (0x80 >> (index & 7));
			}

			const answer = (frame: WireFrame) => {
				if (frame.type === 'handshake') {
					reply(
						Buffer.concat([
							encodeHandshake({
								reserved: Buffer.alloc(8),
								infoHash: behaviour.infoHash,
								peerId: Buffer.from('-FK0001-aaaaaaaaaaaa'),
							}),
							behaviour.extraBytes ?? Buffer.alloc(0),
							encodeMessage({type: 'bitfield', bitfield}),
							encodeMessage({type: 'unchoke'}),
						]),
					);
					return;
				}

				if (frame.type !== 'request' || behaviour.silent) {
					return;
				}

				if (behaviour.chokeAfterBlocks !== undefined && blocksSent === behaviour.chokeAfterBlocks) {
					blocksSent++;
					send({type: 'choke'});
					send({type: 'unchoke'}, latency + (behaviour.unchokeAfterMs ?? 10));
					return;
				}

				const piece = behaviour.pieces[frame.index] ?? Buffer.alloc(0);
				let block = Buffer.from(piece.subarray(frame.begin, frame.begin + frame.length));
				if (behaviour.corrupt?.pieces.includes(frame.index) && corruptionsLeft > 0) {
					block = Buffer.from(block.map((byte) => byte ^ 0xff));
					if (frame.begin + frame.length >= piece.length) {
						corruptionsLeft--;
					}
				}

				blocksSent++;
				const begin = behaviour.sendUnrequested ? frame.begin + 1 : frame.begin;
				send({type: 'piece', index: frame.index, begin, block});
			};

			subscription.add(outgoing$.pipe(frameWire(1 << 20)).subscribe(answer));
			subscriber.next({
				incoming$,
				send(bytes) {
					outgoing$.next(bytes);
					return true;
				},
				drained$: NEVER,
			});
			return subscription;
		})) as ConnectPort & {connections: number};
	connect.connections = 0;
	return connect;
}

/** A PieceStore in memory, recording the order of writes. */
export function memoryStore(
	pieceLength: number,
	length: number,
): PieceStore & {data: Buffer; written: number[]} {
	const data = Buffer.alloc(length);
	const written: number[] = [];
	return {
		preexisting: [],
		data,
		written,
		writePiece(index, piece) {
			piece.copy(data, index * pieceLength);
			written.push(index);
			return of(undefined);
		},
		readPiece(index) {
			return of(Buffer.from(data.subarray(index * pieceLength, Math.min(length, (index + 1) * pieceLength))));
		},
	};
}
