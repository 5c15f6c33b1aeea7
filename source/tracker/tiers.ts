/** BEP 12: trackers within a tier are shuffled once; the tiers keep their order. */
export function shuffleTiers(tiers: readonly string[][], random: () => number = Math.random): string[][] {
	return tiers.map((tier) => {
		const shuffled = [...tier];
		for (let index = shuffled.length - 1; index > 0; index--) {
			const other = Math.floor(random() * (index + 1));
			[shuffled[index], shuffled[other]] = [shuffled[other] as string, shuffled[index] as string];
		}

		return shuffled;
	});
}
