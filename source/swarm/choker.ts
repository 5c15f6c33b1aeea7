import {
	asyncScheduler,
	defer,
	interval,
	map,
	merge,
	type Observable,
	type SchedulerLike,
	startWith,
	throttleTime,
} from 'rxjs';

/** One connected peer as the choker sees it. */
/**
 * Nudges closer together than this make one decision at once and one at the end of the gap. A
 * peer can change its interest with every 5-byte message, and each decision ranks every peer and
 * tells every session; a round is 10 s, so a tenth of a second is still "at once".
 */
const nudgeGapMs = 100;

export type ChokeCandidate = {
	peer: string;
	/** The peer is interested in what we have. */
	interested: boolean;
	/** Bytes so far that rank it: downloaded from it while we leech, uploaded to it once we seed. */
	transferred: number;
	/** It stopped sending us blocks while we wait for them: no regular slot for it. */
	snubbed: boolean;
};

export type ChokerOptions = {
	/** The candidates right now. */
	candidates: () => ChokeCandidate[];
	/** Emits when a peer's interest changes, to fill a free slot without waiting for the round. */
	nudge$: Observable<unknown>;
	/** Regular unchoke slots (BEP 3's mainline client: 4). */
	slots: number;
	/** A round re-ranks by rate: every 10 s in the mainline client. */
	roundMs: number;
	/** The optimistic unchoke moves on every this many rounds (3 × 10 s = 30 s). */
	optimisticRounds: number;
	random?: () => number;
	scheduler?: SchedulerLike;
};

/**
 * The choking algorithm of BEP 3's mainline client: every round, unchoke the `slots` interested
 * peers with the best rate over the last round, plus one optimistic unchoke, chosen at random
 * and kept for `optimisticRounds` rounds, so a newcomer gets a chance to prove its rate. Emits
 * the set of unchoked peers at the start, every round and whenever nudged (at most twice in
 * `nudgeGapMs`).
 */
export function choker(options: ChokerOptions): Observable<ReadonlySet<string>> {
	const random = options.random ?? Math.random;
	const scheduler = options.scheduler ?? asyncScheduler;
	return defer(() => {
		let counted = new Map<string, number>();
		let rates = new Map<string, number>();
		let rounds = 0;
		let optimistic: string | undefined;

		const decide = (newRound: boolean): ReadonlySet<string> => {
			const candidates = options.candidates();
			if (newRound) {
				rates = new Map(
					candidates.map(({peer, transferred}) => [peer, transferred - (counted.get(peer) ?? transferred)]),
				);
				counted = new Map(candidates.map(({peer, transferred}) => [peer, transferred]));
				rounds++;
			} else {
				// A peer seen between rounds is counted from then, so its first round's bytes rank it.
				for (const {peer, transferred} of candidates) {
					if (!counted.has(peer)) {
						counted.set(peer, transferred);
					}
				}
			}

			const interested = candidates.filter((candidate) => candidate.interested);
			const ranked = interested
				.filter((candidate) => !candidate.snubbed)
				.sort((a, b) => (rates.get(b.peer) ?? 0) - (rates.get(a.peer) ?? 0));
			const unchoked = new Set(ranked.slice(0, options.slots).map((candidate) => candidate.peer));
			const others = interested.filter((candidate) => !unchoked.has(candidate.peer));
			const optimisticStillThere = others.some((candidate) => candidate.peer === optimistic);
			if (!optimisticStillThere || (newRound && rounds % options.optimisticRounds === 0)) {
				optimistic = others[Math.floor(random() * others.length)]?.peer;
			}

			if (optimistic) {
				unchoked.add(optimistic);
			}

			return unchoked;
		};

		return merge(
			interval(options.roundMs, scheduler).pipe(map(() => decide(true))),
			options.nudge$.pipe(
				throttleTime(nudgeGapMs, scheduler, {leading: true, trailing: true}),
				map(() => decide(false)),
			),
		).pipe(startWith(decide(false)));
	});
}
