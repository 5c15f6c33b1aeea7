import type {Metainfo} from '../codec/metainfo.js';
import type {PiecePicker} from '../download/piece-picker.js';
import type {HashPort} from '../hashing/sha1.js';
import type {ConnectPort} from '../peer/transport.js';
import type {PieceStore} from '../storage/disk.js';
import {PieceCache} from '../storage/piece-cache.js';
import type {SwarmPorts} from '../swarm/swarm-context.js';
import {sha1PieceVerifier} from '../verify/piece-verifier.js';

/**
 * The swarm's I/O for one run: dialling, SHA-1 against the torrent's piece hashes, the open
 * store, and blocks served through a read cache of `readCacheBytes` that reads on into the
 * next piece when we have it (a peer taking one piece in order often takes the next).
 */
export function swarmPortsFor(
	metainfo: Metainfo,
	ports: {connect: ConnectPort; hashPiece: HashPort},
	store: PieceStore,
	picker: PiecePicker,
	readCacheBytes: number,
): SwarmPorts {
	const cache = new PieceCache(store, picker.pieceSize, readCacheBytes);
	const nextHeld = (index: number) => (picker.isDone(index + 1) ? index + 1 : undefined);
	return {
		connect: ports.connect,
		verifyPiece: sha1PieceVerifier(ports.hashPiece, metainfo.pieceHashes),
		store,
		readBlock: (index, begin, length) => cache.readBlock(index, begin, length, nextHeld(index)),
		peekBlock: (index, begin, length) => cache.peekBlock(index, begin, length, nextHeld(index)),
	};
}
