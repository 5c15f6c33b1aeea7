import {readFileSync} from 'node:fs';
import fc from 'fast-check';
import {buildMetainfo, type NewTorrent} from '../../source/codec/build-metainfo.js';
import type {PeerAddress} from '../../source/codec/compact-peers.js';
import type {Handshake} from '../../source/codec/handshake.js';
import type {PeerMessage} from '../../source/codec/messages.js';
import {PieceHashes} from '../../source/codec/piece-hashes.js';
import {type BencodeNode, bytesNode, dictNode, encodeNode, intNode, listNode} from './mutate.js';

/*
 * Valid encodings to start mutating from, made by torrent-rx's own encoders (and, for
 * torrents, by libtorrent: fixtures/fuzz/README.md says how).
 */

/** Real torrents from libtorrent 2.0.8, with the info hashes libtorrent computed for them. */
export const libtorrentTorrents = [
	{
		file: 'libtorrent-multi.torrent',
		infoHash: '3c2d0caf0dfe7271483160ff9f1ffe6da1fada15',
	},
	{
		file: 'libtorrent-single.torrent',
		infoHash: 'd33a5118bfad3a8009f7faadf924d0f2b6a30843',
	},
].map(({file, infoHash}) => ({
	file,
	infoHash,
	bytes: readFileSync(new URL(`../../fixtures/fuzz/${file}`, import.meta.url)),
}));

/** A name a file system accepts as one entry: no separator, NUL, `.` or `..`; any script. */
export const safeName = fc
	.string({unit: 'grapheme', minLength: 1, maxLength: 12})
	.filter((name) => name !== '.' && name !== '..' && !/[/\\\0]/.test(name));

const trackerUrl = fc.oneof(
	fc.constantFrom('http://127.0.0.1:6969/announce', 'udp://tracker.example:1337', 'https://t.example/a?pk=1'),
	fc.webUrl(),
);

/**
 * A torrent as `torrent-rx create` would write it: one file or a folder of files (no file also
 * used as a folder, no path twice), piece hashes to match, trackers, maybe private.
 */
export const newTorrent: fc.Arbitrary<NewTorrent> = fc
	.record({
		name: safeName,
		multiFile: fc.boolean(),
		files: fc.array(
			fc.record({
				folders: fc.array(safeName, {maxLength: 3}),
				name: safeName,
				length: fc.oneof(fc.nat({max: 100_000}), fc.constant(0)),
			}),
			{minLength: 1, maxLength: 6},
		),
		pieceLength: fc.oneof(
			fc.integer({min: 0, max: 20}).map((power) => 2 ** power),
			fc.integer({min: 1, max: 1 << 18}),
		),
		hashSeed: fc.nat({max: 255}),
		trackers: fc.array(trackerUrl, {maxLength: 3}),
		private: fc.boolean(),
		comment: fc.option(fc.string({unit: 'grapheme', maxLength: 20}), {nil: undefined}),
		createdBy: fc.string({maxLength: 20}),
		creationDate: fc.nat(),
	})
	.map(
		({
			name,
			multiFile,
			files,
			pieceLength,
			hashSeed,
			trackers,
			private: isPrivate,
			comment,
			createdBy,
			creationDate,
		}) => {
			// Folders and files get names of their own kind, and files a number: no clash, no twin.
			const entries = (multiFile ? files : files.slice(0, 1)).map((file, index) => ({
				path: multiFile
					? [name, ...file.folders.map((folder) => `d ${folder}`), `f${index} ${file.name}`]
					: [name],
				length: file.length,
			}));
			const totalLength = entries.reduce((sum, file) => sum + file.length, 0);
			// At most 500 pieces: the hashes are bytes to mutate, not the point.
			const length = Math.max(pieceLength, Math.ceil(totalLength / 500));
			const pieceCount = Math.ceil(totalLength / length);
			return {
				name,
				multiFile,
				files: entries,
				pieceLength: length,
				pieceHashes: PieceHashes.of(
					Array.from({length: pieceCount}, (_, index) => Buffer.alloc(20, (hashSeed + index) & 0xff)),
				),
				trackers,
				private: isPrivate,
				...(comment ? {comment} : {}),
				createdBy,
				creationDate,
			};
		},
	);

/** A .torrent's bytes: one of ours, or one of libtorrent's. */
export const torrentBytes: fc.Arbitrary<Uint8Array> = fc.oneof(
	{arbitrary: newTorrent.map(buildMetainfo), weight: 4},
	fc.constantFrom(...libtorrentTorrents.map(({bytes}) => bytes)),
);

export const ipv4Peer: fc.Arbitrary<PeerAddress> = fc.record({
	host: fc.ipV4(),
	port: fc.integer({min: 1, max: 65_535}),
});

/** Compact peers (BEP 23 / BEP 7): 6 or 18 bytes each, ports included (0 too, which decoders skip). */
export const compactPeerBytes = (family: 4 | 6, maxPeers = 8) =>
	fc
		.integer({min: 0, max: maxPeers})
		.chain((count) =>
			fc.uint8Array({minLength: count * (family === 4 ? 6 : 18), maxLength: count * (family === 4 ? 6 : 18)}),
		);

/** An HTTP tracker's reply (BEP 3, 23, 7): compact or dictionary peers, and the optional fields. */
export const trackerReplyNode: fc.Arbitrary<BencodeNode> = fc
	.record(
		{
			interval: fc.integer({min: -10, max: 100_000}).map(intNode),
			'min interval': fc.integer({min: -10, max: 100_000}).map(intNode),
			peers: fc.oneof(
				compactPeerBytes(4).map(bytesNode),
				fc
					.array(
						fc.record({
							ip: fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain()).map(bytesNode),
							port: fc.integer({min: 0, max: 70_000}).map(intNode),
							'peer id': fc.uint8Array({minLength: 20, maxLength: 20}).map(bytesNode),
						}),
						{maxLength: 5},
					)
					.map((peers) => listNode(peers.map(dictNode))),
			),
			peers6: compactPeerBytes(6).map(bytesNode),
			complete: fc.nat().map(intNode),
			incomplete: fc.nat().map(intNode),
			'warning message': fc.string().map(bytesNode),
			'tracker id': fc.string().map(bytesNode),
			'failure reason': fc.string().map(bytesNode),
		},
		{requiredKeys: ['interval', 'peers']},
	)
	.map((fields) => dictNode(fields as Record<string, BencodeNode>));

export const trackerReplyBytes = trackerReplyNode.map(encodeNode);

/** A UDP tracker's reply (BEP 15), written as a tracker would. */
export const udpTrackerReply = (family: 'IPv4' | 'IPv6') =>
	fc.oneof(
		fc
			.record({transactionId: fc.nat(), connectionId: fc.bigInt({min: 0n, max: 2n ** 64n - 1n})})
			.map(({transactionId, connectionId}) => {
				const packet = Buffer.alloc(16);
				packet.writeUInt32BE(0, 0);
				packet.writeUInt32BE(transactionId >>> 0, 4);
				packet.writeBigUInt64BE(connectionId, 8);
				return packet;
			}),
		fc
			.record({
				transactionId: fc.nat(),
				interval: fc.nat(),
				leechers: fc.nat(),
				seeders: fc.nat(),
				peers: compactPeerBytes(family === 'IPv4' ? 4 : 6, 20),
			})
			.map(({transactionId, interval, leechers, seeders, peers}) => {
				const head = Buffer.alloc(20);
				head.writeUInt32BE(1, 0);
				head.writeUInt32BE(transactionId >>> 0, 4);
				head.writeUInt32BE(interval >>> 0, 8);
				head.writeUInt32BE(leechers >>> 0, 12);
				head.writeUInt32BE(seeders >>> 0, 16);
				return Buffer.concat([head, peers]);
			}),
		fc
			.record({
				transactionId: fc.nat(),
				files: fc.array(fc.tuple(fc.nat(), fc.nat(), fc.nat()), {maxLength: 5}),
			})
			.map(({transactionId, files}) => {
				const packet = Buffer.alloc(8 + 12 * files.length);
				packet.writeUInt32BE(2, 0);
				packet.writeUInt32BE(transactionId >>> 0, 4);
				for (const [index, [seeders, completed, leechers]] of files.entries()) {
					packet.writeUInt32BE(seeders >>> 0, 8 + 12 * index);
					packet.writeUInt32BE(completed >>> 0, 12 + 12 * index);
					packet.writeUInt32BE(leechers >>> 0, 16 + 12 * index);
				}

				return packet;
			}),
		fc
			.record({transactionId: fc.nat(), message: fc.string({unit: 'binary', maxLength: 100})})
			.map(({transactionId, message}) => {
				const head = Buffer.alloc(8);
				head.writeUInt32BE(3, 0);
				head.writeUInt32BE(transactionId >>> 0, 4);
				return Buffer.concat([head, Buffer.from(message, 'utf8')]);
			}),
	);

const uint32 = fc.nat().map((value) => value >>> 0);
const fullUint32 = fc.oneof(uint32, fc.constantFrom(0, 0xff_ff_ff_ff, 0x80_00_00_00));
const smallBytes = (maxLength = 64) => fc.uint8Array({maxLength}).map((bytes) => Buffer.from(bytes));

/** Ids torrent-rx decodes: BEP 3's 0–9, BEP 6's 0x0D–0x11, BEP 10's 20. */
export const knownMessageIds: readonly number[] = [
	0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 20,
];

/** Any well-formed peer message, of every type. */
export const peerMessage: fc.Arbitrary<PeerMessage> = fc.oneof(
	fc.constantFrom<PeerMessage>(
		{type: 'keep-alive'},
		{type: 'choke'},
		{type: 'unchoke'},
		{type: 'interested'},
		{type: 'not-interested'},
		{type: 'have-all'},
		{type: 'have-none'},
	),
	fc.record({
		type: fc.constantFrom('have' as const, 'suggest' as const, 'allowed-fast' as const),
		index: fullUint32,
	}),
	fc.record({type: fc.constant('bitfield' as const), bitfield: smallBytes()}),
	fc.record({
		type: fc.constantFrom('request' as const, 'cancel' as const, 'reject' as const),
		index: fullUint32,
		begin: fullUint32,
		length: fullUint32,
	}),
	fc.record({type: fc.constant('piece' as const), index: fullUint32, begin: fullUint32, block: smallBytes()}),
	fc.record({type: fc.constant('port' as const), port: fc.integer({min: 0, max: 65_535})}),
	fc.record({
		type: fc.constant('extended' as const),
		extension: fc.integer({min: 0, max: 255}),
		payload: smallBytes(),
	}),
	fc.record({
		type: fc.constant('unknown' as const),
		id: fc.integer({min: 0, max: 255}).filter((id) => !knownMessageIds.includes(id)),
		payload: smallBytes(),
	}),
);

export const handshake: fc.Arbitrary<Handshake> = fc.record({
	reserved: fc.uint8Array({minLength: 8, maxLength: 8}).map((bytes) => Buffer.from(bytes)),
	infoHash: fc.uint8Array({minLength: 20, maxLength: 20}).map((bytes) => Buffer.from(bytes)),
	peerId: fc.uint8Array({minLength: 20, maxLength: 20}).map((bytes) => Buffer.from(bytes)),
});

const base32Alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 without padding: 20 bytes become 32 characters. */
export function base32(bytes: Uint8Array): string {
	let bits = 0;
	let value = 0;
	let text = '';
	for (const byte of bytes) {
		value = (value << 8) | byte;
		bits += 8;
		while (bits >= 5) {
			bits -= 5;
			text += base32Alphabet[(value >> bits) & 31];
		}
	}

	return text;
}

export type MagnetParts = {
	infoHash: Buffer;
	topic: string;
	displayName: string | undefined;
	trackers: string[];
	peers: PeerAddress[];
	link: string;
};

/** A magnet link (BEP 9) with its parts: hex or base32 topic, `dn`, `tr` and `x.pe` in any order. */
export const magnetLink: fc.Arbitrary<MagnetParts> = fc
	.record({
		infoHash: fc.uint8Array({minLength: 20, maxLength: 20}).map((bytes) => Buffer.from(bytes)),
		base32: fc.boolean(),
		upper: fc.boolean(),
		displayName: fc.option(fc.string({unit: 'grapheme', minLength: 1, maxLength: 20}), {nil: undefined}),
		trackers: fc.uniqueArray(trackerUrl, {maxLength: 3}),
		peers: fc.array(
			fc.oneof(ipv4Peer, fc.record({host: fc.ipV6(), port: fc.integer({min: 1, max: 65_535})})),
			{maxLength: 3},
		),
		extra: fc.array(fc.tuple(fc.constantFrom('xl', 'as', 'ws', 'kt', 'so'), fc.string()), {maxLength: 2}),
	})
	.map(({infoHash, base32: asBase32, upper, displayName, trackers, peers, extra}) => {
		const hex = infoHash.toString('hex');
		const topic = `urn:btih:${asBase32 ? base32(infoHash) : upper ? hex.toUpperCase() : hex}`;
		const parameters = [
			['xt', topic],
			...(displayName ? [['dn', displayName]] : []),
			...trackers.map((tracker) => ['tr', tracker]),
			...peers.map((peer) => [
				'x.pe',
				peer.host.includes(':') ? `[${peer.host}]:${peer.port}` : `${peer.host}:${peer.port}`,
			]),
			...extra,
		];
		const query = parameters.map(([key = '', value = '']) => `${key}=${encodeURIComponent(value)}`).join('&');
		return {infoHash, topic, displayName, trackers, peers, link: `magnet:?${query}`};
	});

export const infoHashHex = fc
	.uint8Array({minLength: 20, maxLength: 20})
	.map((bytes) => Buffer.from(bytes).toString('hex'));
