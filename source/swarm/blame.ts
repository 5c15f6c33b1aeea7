import {createHash} from 'node:crypto';
import {blockLength} from '../codec/messages.js';
import type {PieceProgress} from '../download/piece-progress.js';

/** One block of a piece that failed its hash: who sent it, and what it looked like. */
export type SuspectBlock = {peer: string; block: number; digest: Buffer};

/** Failed pieces remembered at once, at most: a hostile swarm cannot grow this without bound. */
const maxSuspectPieces = 256;

const sha1 = (data: Uint8Array) => createHash('sha1').update(data).digest();

function blockOf(data: Buffer, block: number): Buffer {
	return data.subarray(block * blockLength, (block + 1) * blockLength);
}

/**
 * A piece from several peers failed its hash: nobody can be blamed yet, so each block's sender
 * and digest are kept until the piece passes (libtorrent's "smart ban"). Blaming every sender
 * instead let a peer that poisons one block of pieces it never finishes get the honest peer
 * that finished them banned.
 */
export function rememberSuspects(piece: PieceProgress, suspects: Map<number, SuspectBlock[]>): void {
	const blocks: SuspectBlock[] = [];
	for (let block = 0; block < piece.blockCount; block++) {
		const peer = piece.senderOf(block);
		if (peer !== undefined) {
			blocks.push({peer, block, digest: sha1(blockOf(piece.data, block))});
		}
	}

	suspects.delete(piece.index);
	suspects.set(piece.index, blocks);
	for (const oldest of suspects.keys()) {
		if (suspects.size <= maxSuspectPieces) {
			break;
		}

		suspects.delete(oldest);
	}
}

/** The piece passed at last: whoever sent a block of an earlier copy that differs from it lied. */
export function convictLiars(
	index: number,
	data: Buffer,
	suspects: Map<number, SuspectBlock[]>,
): Set<string> {
	const liars = new Set<string>();
	for (const suspect of suspects.get(index) ?? []) {
		if (!sha1(blockOf(data, suspect.block)).equals(suspect.digest)) {
			liars.add(suspect.peer);
		}
	}

	suspects.delete(index);
	return liars;
}
