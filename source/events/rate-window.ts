/** Rates average over this window: long enough to smooth out whole pieces landing, short enough to follow a change. */
export const rateWindowMs = 5000;

/** Bytes are counted in slots of this length, so a window holds at most 21 of them however many events fall in it. */
const slotMs = 250;

/** Bytes that arrived in one slot of time, starting `at`. */
type Slot = {at: number; bytes: number};

/** Bytes seen over the last `rateWindowMs`, by slot; immutable, so a fold can keep it in its state. */
export type RateWindow = {readonly slots: readonly Slot[]; readonly total: number};

export const emptyRateWindow: RateWindow = {slots: [], total: 0};

/** The window with `bytes` more at `now`. */
export function addBytes(window: RateWindow, now: number, bytes: number): RateWindow {
	const at = now - (now % slotMs);
	const last = window.slots.at(-1);
	const slots =
		last?.at === at
			? [...window.slots.slice(0, -1), {at, bytes: last.bytes + bytes}]
			: [...window.slots, {at, bytes}];
	return {slots, total: window.total + bytes};
}

/** The window without the slots that have left it by `now`; the same object when none has. */
export function slide(window: RateWindow, now: number): RateWindow {
	const first = window.slots[0];
	if (first === undefined || now - first.at < rateWindowMs) {
		return window;
	}

	const slots = window.slots.filter((slot) => now - slot.at < rateWindowMs);
	return {slots, total: slots.reduce((sum, slot) => sum + slot.bytes, 0)};
}

export function rate(window: RateWindow, since: number, now: number): number {
	// Early on, divide by the time since the start (at least a second), not by a window not yet lived.
	return (window.total * 1000) / Math.max(1000, Math.min(rateWindowMs, now - since));
}
