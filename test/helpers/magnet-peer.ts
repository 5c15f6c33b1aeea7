import {createHash} from 'node:crypto';
import {asyncScheduler, interval, NEVER, Observable, Subject, Subscription} from 'rxjs';
import {encodeBencode} from '../../source/codec/bencode.js';
import {type PeerAddress, peerKey} from '../../source/codec/compact-peers.js';
import {
	decodeExtendedHandshake,
	decodeMetadataMessage,
	type ExtendedHandshake,
	encodeMetadataMessage,
	metadataPieceLength,
} from '../../source/codec/extension-protocol.js';
import {encodeHandshake, extensionProtocolBit, type Handshake} from '../../source/codec/handshake.js';
import {encodeMessage, type PeerMessage} from '../../source/codec/messages.js';
import {frameWire} from '../../source/peer/framer.js';
import type {ConnectPort, PeerWire} from '../../source/peer/transport.js';

/**
 * A real single-file info dictionary with `hashes` piece hashes: 20 bytes each, so 2,000 make
 * about 40 KiB (three 16 KiB metadata pieces). Its bytes and the info hash they give.
 */
export function makeInfoDictionary(hashes: number, name = 'magnet.bin') {
	const pieces = Buffer.alloc(20 * hashes);
	for (let index = 0; index < pieces.length; index++) {
		pieces[index] = (index * 31 + (index >> 7)) & 0xff;
	}

	const infoBytes = encodeBencode({length: hashes * 16_384, name, 'piece length': 16_384, pieces});
	return {
		infoBytes,
		infoHash: createHash('sha1').update(infoBytes).digest(),
		pieceCount: Math.ceil(infoBytes.length / metadataPieceLength),
	};
}

/** Reserved bytes with BEP 10's bit alone (`extension`), or none at all. */
export function reservedBytes(extension: boolean): Buffer {
	const reserved = Buffer.alloc(8);
	if (extension) {
		reserved.writeUInt8(extensionProtocolBit.mask, extensionProtocolBit.byte);
	}

	return reserved;
}

/** The message id the fake peers ask us to use for ut_metadata (not ours, on purpose). */
export const theirMetadataId = 3;

export type MetadataPeerScript = {
	/** Served metadata: its pieces are sent as asked, unless the script says otherwise. */
	infoBytes: Buffer;
	/** The info hash in the peer's handshake. */
	infoHash: Buffer;
	/** BEP 10's bit in the handshake (default true). */
	extensionBit?: boolean;
	/** The extended handshake's dictionary (default: ut_metadata, metadata_size, v); false: none is sent. */
	extendedHandshake?: Record<string, unknown> | false;
	/** Virtual milliseconds before each answer (default 1). */
	latencyMs?: number;
	/** Milliseconds before the answer to a request for piece `index`, instead of `latencyMs`. */
	pieceLatencyMs?: number[];
	/** Pieces sent with their bytes flipped, `times` times in all (default: always). */
	corrupt?: {pieces: number[]; times?: number};
	/** Never answer metadata requests. */
	silent?: boolean;
	/** Pieces answered with a reject. */
	reject?: number[];
	/** A keep-alive this often, whatever else happens. */
	keepAliveEveryMs?: number;
	/** A ut_metadata request of ours sent right after the extended handshake. */
	requestFromUs?: number;
};

export type MetadataPeerLog = {
	connections: number;
	/** Open wires right now: each connection counts until it is unsubscribed. */
	open: number;
	/** Metadata pieces asked of this peer, in order. */
	requests: number[];
	/** Every message we sent, after the handshake. */
	received: PeerMessage[];
	ourHandshake?: Handshake;
	ourExtendedHandshake?: ExtendedHandshake;
};

/**
 * A scripted peer that has (or pretends to have) a torrent's metadata, behind a ConnectPort: it
 * parses what we send with torrent-rx's own framer and answers on the async scheduler, as a
 * socket would, so a metadata fetch can run end to end in virtual time.
 */
export function metadataPeer(script: MetadataPeerScript): ConnectPort & {log: MetadataPeerLog} {
	const log: MetadataPeerLog = {connections: 0, open: 0, requests: [], received: []};
	const latency = script.latencyMs ?? 1;
	let corruptionsLeft = script.corrupt?.times ?? Number.POSITIVE_INFINITY;
	const connect = ((_address: PeerAddress) =>
		new Observable<PeerWire>((subscriber) => {
			log.connections++;
			log.open++;
			const subscription = new Subscription(() => {
				log.open--;
			});
			const incoming$ = new Subject<Buffer>();
			const outgoing$ = new Subject<Buffer>();
			let ourMetadataId = 0;
			const reply = (bytes: Buffer, delay = latency) => {
				subscription.add(asyncScheduler.schedule(() => incoming$.next(bytes), delay));
			};

			const send = (message: PeerMessage, delay?: number) => reply(encodeMessage(message), delay);
			const sendMetadata = (payload: Buffer, piece: number) =>
				send({type: 'extended', extension: ourMetadataId, payload}, script.pieceLatencyMs?.[piece]);

			subscription.add(
				outgoing$.pipe(frameWire(1 << 20)).subscribe((frame) => {
					if (frame.type === 'handshake') {
						log.ourHandshake = frame.handshake;
						const reserved = reservedBytes(script.extensionBit !== false);
						const handshake = encodeHandshake({
							reserved,
							infoHash: script.infoHash,
							peerId: Buffer.from('-LT2080-metadatapeer'),
						});
						const extended =
							script.extendedHandshake === false
								? []
								: [
										encodeMessage({
											type: 'extended',
											extension: 0,
											payload: encodeBencode(
												script.extendedHandshake ?? {
													m: {ut_metadata: theirMetadataId, ut_pex: 1},
													metadata_size: script.infoBytes.length,
													v: 'libtorrent/2.0.8.0',
												},
											),
										}),
									];
						reply(Buffer.concat([handshake, ...extended]));
						if (script.keepAliveEveryMs) {
							subscription.add(
								interval(script.keepAliveEveryMs).subscribe(() =>
									incoming$.next(encodeMessage({type: 'keep-alive'})),
								),
							);
						}

						return;
					}

					log.received.push(frame);
					if (frame.type !== 'extended') {
						return;
					}

					if (frame.extension === 0) {
						log.ourExtendedHandshake = decodeExtendedHandshake(frame.payload);
						ourMetadataId = log.ourExtendedHandshake.extensions.get('ut_metadata') ?? 0;
						if (script.requestFromUs !== undefined) {
							send({
								type: 'extended',
								extension: ourMetadataId,
								payload: encodeMetadataMessage({kind: 'request', piece: script.requestFromUs}),
							});
						}

						return;
					}

					if (frame.extension !== theirMetadataId || ourMetadataId === 0) {
						return;
					}

					const message = decodeMetadataMessage(frame.payload);
					if (message.kind !== 'request') {
						return;
					}

					log.requests.push(message.piece);
					if (script.silent) {
						return;
					}

					if (script.reject?.includes(message.piece)) {
						sendMetadata(encodeMetadataMessage({kind: 'reject', piece: message.piece}), message.piece);
						return;
					}

					let data = Buffer.from(
						script.infoBytes.subarray(
							message.piece * metadataPieceLength,
							(message.piece + 1) * metadataPieceLength,
						),
					);
					if (script.corrupt?.pieces.includes(message.piece) && corruptionsLeft > 0) {
						corruptionsLeft--;
						data = Buffer.from(data.map((byte) => byte ^ 0xff));
					}

					sendMetadata(
						encodeMetadataMessage({
							kind: 'data',
							piece: message.piece,
							totalSize: script.infoBytes.length,
							data,
						}),
						message.piece,
					);
				}),
			);
			subscriber.next({
				incoming$,
				send(bytes) {
					outgoing$.next(Buffer.from(bytes));
					return true;
				},
				drained$: NEVER,
			});
			return subscription;
		})) as ConnectPort & {log: MetadataPeerLog};
	connect.log = log;
	return connect;
}

/**
 * Several scripted peers behind one ConnectPort, by address (`host:port`), counting the
 * connections open at once. An address without a script is refused.
 */
export function metadataSwarm(peers: Record<string, ConnectPort>) {
	const state = {open: 0, maxOpen: 0, dialled: [] as string[]};
	const connect: ConnectPort = (address) => {
		const key = peerKey(address);
		const peer = peers[key];
		if (!peer) {
			return new Observable<PeerWire>((subscriber) => subscriber.error(new Error(`no peer at ${key}`)));
		}

		return new Observable<PeerWire>((subscriber) => {
			state.dialled.push(key);
			state.open++;
			state.maxOpen = Math.max(state.maxOpen, state.open);
			const subscription = peer(address).subscribe(subscriber);
			return () => {
				state.open--;
				subscription.unsubscribe();
			};
		});
	};

	return {connect, state};
}
