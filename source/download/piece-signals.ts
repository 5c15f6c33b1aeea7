import {Subject} from 'rxjs';
import type {PickerListener, PiecePicker} from './piece-picker.js';
import type {PieceProgress} from './piece-progress.js';

/** A block stored in endgame, and the piece it belongs to. */
export type BlockArrival = {piece: PieceProgress; block: number};

/**
 * What the picker reports, as Observables for every peer's stage: created where the picker is
 * created and handed to it as its listener. The picker itself knows nothing of rxjs.
 */
export class PieceSignals implements PickerListener {
	/** Emits when work becomes available again, so idle peers look for more. */
	readonly workAvailable$ = new Subject<void>();
	/** Emits each piece as it is verified and stored, so every peer can be told (`have`); completes with the download. */
	readonly verified$ = new Subject<number>();
	/**
	 * Endgame only: a block arrived, so every other peer that was asked for it sends a cancel,
	 * and a piece finished by another peer is forgotten by its owner.
	 */
	readonly blockArrived$ = new Subject<BlockArrival>();

	/**
	 * The signals `picker` reports to. Each peer's stage is handed the picker alone, so it finds
	 * them there; a picker built without them has no way to tell peers of work or endgame.
	 */
	static of(picker: PiecePicker): PieceSignals {
		if (picker.listener instanceof PieceSignals) {
			return picker.listener;
		}

		throw new TypeError('the picker was built without PieceSignals as its listener');
	}

	workAvailable(): void {
		this.workAvailable$.next();
	}

	pieceVerified(index: number): void {
		this.verified$.next(index);
	}

	downloadComplete(): void {
		this.verified$.complete();
	}

	blockArrived(piece: PieceProgress, block: number): void {
		this.blockArrived$.next({piece, block});
	}
}
