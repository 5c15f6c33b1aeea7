import {PeerProtocolError} from '../errors.js';

/** The standard block size: every client serves 16 KiB requests, many refuse larger ones. */
export const blockLength = 16 * 1024;

/** Message ids of BEP 3 (0–9). */
export const MessageId = {
	choke: 0,
	unchoke: 1,
	interested: 2,
	notInterested: 3,
	have: 4,
	bitfield: 5,
	request: 6,
	piece: 7,
	cancel: 8,
	port: 9,
	/** BEP 6, the fast extension. */
	suggest: 0x0d,
	haveAll: 0x0e,
	haveNone: 0x0f,
	reject: 0x10,
	allowedFast: 0x11,
	/** BEP 10: every extension message, its own id in the first payload byte. */
	extended: 20,
} as const;

export type PeerMessage =
	| {type: 'keep-alive'}
	| {type: 'choke'}
	| {type: 'unchoke'}
	| {type: 'interested'}
	| {type: 'not-interested'}
	| {type: 'have'; index: number}
	| {type: 'bitfield'; bitfield: Buffer}
	| {type: 'request'; index: number; begin: number; length: number}
	| {type: 'piece'; index: number; begin: number; block: Buffer}
	| {type: 'cancel'; index: number; begin: number; length: number}
	| {type: 'port'; port: number}
	/** BEP 6: a piece worth asking for; every piece; no piece; a request we will not serve; a piece we serve even while choking. */
	| {type: 'suggest'; index: number}
	| {type: 'have-all'}
	| {type: 'have-none'}
	| {type: 'reject'; index: number; begin: number; length: number}
	| {type: 'allowed-fast'; index: number}
	/** BEP 10: `extension` 0 is the extended handshake; others are the ids we announced in ours. */
	| {type: 'extended'; extension: number; payload: Buffer}
	| {type: 'unknown'; id: number; payload: Buffer};

function expectLength(payload: Buffer, length: number, name: string): void {
	if (payload.length !== length) {
		throw new PeerProtocolError(`${name} message has ${payload.length} payload bytes, expected ${length}`);
	}
}

/**
 * Decodes one framed message body (the bytes after the 4-byte length prefix). The `block` of a
 * piece message is a view into `body`, not a copy: the caller copies it once into its piece.
 */
export function decodeMessage(body: Buffer): PeerMessage {
	if (body.length === 0) {
		return {type: 'keep-alive'};
	}

	const id = body.readUInt8(0);
	const payload = body.subarray(1);
	switch (id) {
		case MessageId.choke:
			expectLength(payload, 0, 'choke');
			return {type: 'choke'};
		case MessageId.unchoke:
			expectLength(payload, 0, 'unchoke');
			return {type: 'unchoke'};
		case MessageId.interested:
			expectLength(payload, 0, 'interested');
			return {type: 'interested'};
		case MessageId.notInterested:
			expectLength(payload, 0, 'not interested');
			return {type: 'not-interested'};
		case MessageId.have:
			expectLength(payload, 4, 'have');
			return {type: 'have', index: payload.readUInt32BE(0)};
		case MessageId.bitfield:
			return {type: 'bitfield', bitfield: payload};
		case MessageId.suggest:
		case MessageId.allowedFast:
			expectLength(payload, 4, id === MessageId.suggest ? 'suggest' : 'allowed fast');
			return {type: id === MessageId.suggest ? 'suggest' : 'allowed-fast', index: payload.readUInt32BE(0)};
		case MessageId.haveAll:
			expectLength(payload, 0, 'have all');
			return {type: 'have-all'};
		case MessageId.haveNone:
			expectLength(payload, 0, 'have none');
			return {type: 'have-none'};
		case MessageId.request:
		case MessageId.cancel:
		case MessageId.reject:
			expectLength(
				payload,
				12,
				id === MessageId.request ? 'request' : id === MessageId.cancel ? 'cancel' : 'reject',
			);
			return {
				type: id === MessageId.request ? 'request' : id === MessageId.cancel ? 'cancel' : 'reject',
				index: payload.readUInt32BE(0),
				begin: payload.readUInt32BE(4),
				length: payload.readUInt32BE(8),
			};
		case MessageId.piece:
			if (payload.length < 8) {
				throw new PeerProtocolError(`piece message has only ${payload.length} payload bytes`);
			}

			return {
				type: 'piece',
				index: payload.readUInt32BE(0),
				begin: payload.readUInt32BE(4),
				block: payload.subarray(8),
			};
		case MessageId.port:
			expectLength(payload, 2, 'port');
			return {type: 'port', port: payload.readUInt16BE(0)};
		case MessageId.extended:
			if (payload.length < 1) {
				throw new PeerProtocolError('extended message without its extension id');
			}

			return {type: 'extended', extension: payload.readUInt8(0), payload: payload.subarray(1)};
		default:
			// Extensions we do not speak (yet) are skipped, never fatal.
			return {type: 'unknown', id, payload};
	}
}

function header(length: number, id: number, extra = 0): Buffer {
	const buffer = Buffer.allocUnsafe(5 + extra);
	buffer.writeUInt32BE(1 + length, 0);
	buffer.writeUInt8(id, 4);
	return buffer;
}

function indexBeginLength(id: number, index: number, begin: number, length: number): Buffer {
	// <len=0013><id=6|8><index><begin><length>
	const buffer = header(12, id, 12);
	buffer.writeUInt32BE(index, 5);
	buffer.writeUInt32BE(begin, 9);
	buffer.writeUInt32BE(length, 13);
	return buffer;
}

/** Encodes a message with its 4-byte length prefix, ready for the socket. */
export function encodeMessage(message: PeerMessage): Buffer {
	switch (message.type) {
		case 'keep-alive':
			// <len=0000>
			return Buffer.alloc(4);
		case 'choke':
			// <len=0001><id=0>
			return header(0, MessageId.choke);
		case 'unchoke':
			return header(0, MessageId.unchoke);
		case 'interested':
			return header(0, MessageId.interested);
		case 'not-interested':
			return header(0, MessageId.notInterested);
		case 'have': {
			// <len=0005><id=4><piece index>
			const buffer = header(4, MessageId.have, 4);
			buffer.writeUInt32BE(message.index, 5);
			return buffer;
		}

		case 'bitfield':
			// <len=0001+X><id=5><bitfield>
			return Buffer.concat([header(message.bitfield.length, MessageId.bitfield), message.bitfield]);
		case 'request':
			return indexBeginLength(MessageId.request, message.index, message.begin, message.length);
		case 'cancel':
			return indexBeginLength(MessageId.cancel, message.index, message.begin, message.length);
		case 'reject':
			// <len=0013><id=0x10><index><begin><length>
			return indexBeginLength(MessageId.reject, message.index, message.begin, message.length);
		case 'have-all':
			return header(0, MessageId.haveAll);
		case 'have-none':
			return header(0, MessageId.haveNone);
		case 'suggest':
		case 'allowed-fast': {
			// <len=0005><id=0x0D|0x11><index>
			const buffer = header(4, message.type === 'suggest' ? MessageId.suggest : MessageId.allowedFast, 4);
			buffer.writeUInt32BE(message.index, 5);
			return buffer;
		}
		case 'piece': {
			// <len=0009+X><id=7><index><begin><block>
			const buffer = header(8 + message.block.length, MessageId.piece, 8);
			buffer.writeUInt32BE(message.index, 5);
			buffer.writeUInt32BE(message.begin, 9);
			return Buffer.concat([buffer, message.block]);
		}

		case 'port': {
			// <len=0003><id=9><listen-port>
			const buffer = header(2, MessageId.port, 2);
			buffer.writeUInt16BE(message.port, 5);
			return buffer;
		}

		case 'extended': {
			// <len=0002+X><id=20><extension id><payload>
			const buffer = header(1 + message.payload.length, MessageId.extended, 1);
			buffer.writeUInt8(message.extension, 5);
			return Buffer.concat([buffer, message.payload]);
		}

		case 'unknown':
			return Buffer.concat([header(message.payload.length, message.id), message.payload]);
	}
}
