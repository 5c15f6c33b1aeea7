import {PeerProtocolError} from '../errors.js';
import {
	type BencodeDictionary,
	decodeBencode,
	decodeBencodePrefix,
	encodeBencode,
	isBytes,
	isDictionary,
	isInteger,
} from './bencode.js';
import {decodeCompactPeers, encodeCompactPeer, type PeerAddress} from './compact-peers.js';
import {printable} from './printable.js';

/** The extensions torrent-rx speaks, with the message ids it asks peers to use for them (BEP 10 `m`). */
export const ourExtensions = {ut_metadata: 1, ut_pex: 2} as const;

export type ExtensionName = keyof typeof ourExtensions;

/** BEP 9: metadata travels in pieces of 16 KiB, the last one shorter. */
export const metadataPieceLength = 16 * 1024;

/** No real info dictionary comes near this; a bigger `metadata_size` is a peer to ignore. */
export const maxMetadataSize = 64 * 1024 * 1024;

/** What a peer tells us in its extended handshake (BEP 10), as far as we use it. */
export type ExtendedHandshake = {
	/** Its message ids for the extensions it speaks; 0 means it stopped speaking one. */
	extensions: Map<string, number>;
	/** Its client name and version, e.g. `libtorrent 2.0.8` (shown instead of the peer id's guess). */
	client?: string;
	/** Its listening port, for a peer that called us. */
	port?: number;
	/** Requests it queues at most. */
	requestQueue?: number;
	/** BEP 9: the size of the info dictionary, from a peer that has it. */
	metadataSize?: number;
};

/** Our extended handshake: `m`, `v`, `p`, `reqq` and, once we have the info dictionary, `metadata_size`. */
export function encodeExtendedHandshake({
	client,
	port,
	requestQueue,
	metadataSize,
	withPex = true,
}: {
	client: string;
	port: number;
	requestQueue: number;
	metadataSize?: number;
	/** BEP 27: a private torrent finds its peers through its trackers only. */
	withPex?: boolean;
}): Buffer {
	return encodeBencode({
		m: withPex ? ourExtensions : {ut_metadata: ourExtensions.ut_metadata},
		v: client,
		...(port > 0 ? {p: port} : {}),
		reqq: requestQueue,
		...(metadataSize === undefined ? {} : {metadata_size: metadataSize}),
	});
}

function decodeDictionary(payload: Buffer, what: string): BencodeDictionary {
	let value: ReturnType<typeof decodeBencode>;
	try {
		value = decodeBencode(payload);
	} catch (error) {
		throw new PeerProtocolError(`malformed ${what}`, {cause: error});
	}

	if (!isDictionary(value)) {
		throw new PeerProtocolError(`${what} is not a dictionary`);
	}

	return value;
}

export function decodeExtendedHandshake(payload: Buffer): ExtendedHandshake {
	const dictionary = decodeDictionary(payload, 'extended handshake');
	const extensions = new Map<string, number>();
	const m = dictionary.m;
	if (isDictionary(m)) {
		for (const [name, id] of Object.entries(m)) {
			if (isInteger(id) && id >= 0 && id <= 255) {
				extensions.set(name, id);
			}
		}
	}

	const {v, p, reqq} = dictionary;
	const size = dictionary.metadata_size;
	return {
		extensions,
		...(isBytes(v) ? {client: printable(Buffer.from(v).toString('utf8'), 40)} : {}),
		...(isInteger(p) && p > 0 && p < 65_536 ? {port: p} : {}),
		...(isInteger(reqq) && reqq > 0 ? {requestQueue: reqq} : {}),
		...(isInteger(size) && size > 0 && size <= maxMetadataSize ? {metadataSize: size} : {}),
	};
}

/** BEP 9's three messages: a request for a piece, the piece (with `total_size`), or a reject. */
export type MetadataMessage =
	| {kind: 'request'; piece: number}
	| {kind: 'data'; piece: number; totalSize: number; data: Buffer}
	| {kind: 'reject'; piece: number};

const metadataKinds = {request: 0, data: 1, reject: 2} as const;

/** `{msg_type, piece[, total_size]}` bencoded, then for data the piece's raw bytes. */
export function encodeMetadataMessage(message: MetadataMessage): Buffer {
	const dictionary = encodeBencode({
		msg_type: metadataKinds[message.kind],
		piece: message.piece,
		...(message.kind === 'data' ? {total_size: message.totalSize} : {}),
	});
	return message.kind === 'data' ? Buffer.concat([dictionary, message.data]) : dictionary;
}

export function decodeMetadataMessage(payload: Buffer): MetadataMessage {
	let prefix: ReturnType<typeof decodeBencodePrefix>;
	try {
		prefix = decodeBencodePrefix(payload);
	} catch (error) {
		throw new PeerProtocolError('malformed ut_metadata message', {cause: error});
	}

	const dictionary = prefix.value;
	if (!isDictionary(dictionary)) {
		throw new PeerProtocolError('ut_metadata message is not a dictionary');
	}

	const kind = dictionary.msg_type;
	const piece = dictionary.piece;
	if (!isInteger(piece) || piece < 0) {
		throw new PeerProtocolError('ut_metadata message without a piece number');
	}

	switch (kind) {
		case metadataKinds.request:
			return {kind: 'request', piece};
		case metadataKinds.data: {
			const totalSize = dictionary.total_size;
			if (!isInteger(totalSize) || totalSize <= 0 || totalSize > maxMetadataSize) {
				throw new PeerProtocolError('ut_metadata data without a sane total_size');
			}

			return {kind: 'data', piece, totalSize, data: payload.subarray(prefix.length)};
		}

		case metadataKinds.reject:
			return {kind: 'reject', piece};
		default:
			// Only a number goes into the text: a dictionary from the wire may carry its own toString.
			throw new PeerProtocolError(
				`ut_metadata message of unknown type ${isInteger(kind) ? kind : 'that is not an integer'}`,
			);
	}
}

/** A PEX message (BEP 11): peers that joined the sender's swarm since its last message, and peers that left. */
export type PexMessage = {added: PeerAddress[]; dropped: PeerAddress[]};

/** Peers a PEX message may name: BEP 11 asks for at most 50 added and 50 dropped. */
export const maxPexPeers = 50;

/** `{added, added.f, dropped}` with compact IPv4 peers; IPv6 peers are not sent (yet). */
export function encodePex({added, dropped}: PexMessage): Buffer {
	const ipv4 = (peers: PeerAddress[]) =>
		peers.filter((peer) => /^\d+\.\d+\.\d+\.\d+$/.test(peer.host)).slice(0, maxPexPeers);
	const addedV4 = ipv4(added);
	return encodeBencode({
		added: Buffer.concat(addedV4.map(encodeCompactPeer)),
		'added.f': Buffer.alloc(addedV4.length),
		dropped: Buffer.concat(ipv4(dropped).map(encodeCompactPeer)),
	});
}

export function decodePex(payload: Buffer): PexMessage {
	const dictionary = decodeDictionary(payload, 'ut_pex message');
	// BEP 11: 50 of each at most. Only those are decoded, IPv4 first: an IPv6 address costs a
	// URL parse, and a message may carry thousands.
	const peers = (key: string, family: 4 | 6, limit: number) => {
		const bytes = dictionary[key];
		return isBytes(bytes) && limit > 0 ? decodeCompactPeers(bytes, family, limit) : [];
	};
	const both = (v4: string, v6: string) => {
		const first = peers(v4, 4, maxPexPeers);
		return [...first, ...peers(v6, 6, maxPexPeers - first.length)];
	};

	return {added: both('added', 'added6'), dropped: both('dropped', 'dropped6')};
}
