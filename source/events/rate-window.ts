/** Bytes that arrived at a time: the samples a rate is averaged over. */
export type Sample = {at: number; bytes: number};

/** Rates average over this window: long enough to smooth out whole pieces landing, short enough to follow a change. */
export const rateWindowMs = 5000;

/** The samples still inside the window; the same array when none left it, so nothing is copied per event. */
export function slide(samples: readonly Sample[], now: number): readonly Sample[] {
	const first = samples[0];
	return first === undefined || now - first.at < rateWindowMs
		? samples
		: samples.filter((sample) => now - sample.at < rateWindowMs);
}

export function rate(samples: readonly Sample[], since: number, now: number): number {
	const total = samples.reduce((sum, sample) => sum + sample.bytes, 0);
	// Early on, divide by the time since the start (at least a second), not by a window not yet lived.
	return (total * 1000) / Math.max(1000, Math.min(rateWindowMs, now - since));
}
