import {type PickerOptions, PiecePicker} from '../../source/download/piece-picker.js';
import {PieceSignals} from '../../source/download/piece-signals.js';

/**
 * `picker` behind a Proxy that runs `checkInvariant` after every method call, queries included
 * (a query that changed the books would show), as libtorrent's tests call `check_invariant`
 * after every step. Methods run on the picker itself, whose private fields a Proxy cannot reach.
 */
export function checked(picker: PiecePicker): PiecePicker {
	picker.checkInvariant();
	return new Proxy(picker, {
		get(target, property) {
			const value: unknown = Reflect.get(target, property, target);
			if (typeof value !== 'function' || property === 'constructor' || property === 'checkInvariant') {
				return value;
			}

			return (...parameters: unknown[]) => {
				const result: unknown = value.apply(target, parameters);
				target.checkInvariant();
				return result;
			};
		},
	});
}

/** A `PiecePicker` reporting to `PieceSignals`, its invariant checked after every call. */
export function checkedPicker(
	pieceSize: (index: number) => number,
	pieceCount: number,
	options: PickerOptions,
): PiecePicker {
	return checked(new PiecePicker(pieceSize, pieceCount, {listener: new PieceSignals(), ...options}));
}
