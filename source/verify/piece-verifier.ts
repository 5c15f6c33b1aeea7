import {map, type Observable} from 'rxjs';
import type {PieceHashes} from '../codec/piece-hashes.js';
import type {HashPort} from '../hashing/sha1.js';

/**
 * Whether a piece's data is what the torrent says it is: the one interface the download calls
 * to verify, whatever the hash scheme. BitTorrent v1 hashes the whole piece with SHA-1 (BEP 3);
 * v2 (BEP 52) checks 16 KiB blocks against SHA-256 Merkle trees, and will be another
 * implementation of this.
 */
export type PieceVerifier = (index: number, data: Buffer) => Observable<boolean>;

/** BEP 3: the piece's SHA-1 must equal the info dictionary's 20 bytes for it. */
export function sha1PieceVerifier(hashPiece: HashPort, pieceHashes: PieceHashes): PieceVerifier {
	return (index, data) => hashPiece(data).pipe(map((digest) => pieceHashes.matches(index, digest)));
}
