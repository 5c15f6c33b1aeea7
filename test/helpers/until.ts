/**
 * Resolves once `condition` holds, polled every 20 ms; rejects after `timeoutMs`, naming `what`.
 * For tests that wait for what they then assert, never for a delay that usually suffices.
 */
export async function until(condition: () => boolean, timeoutMs: number, what: string): Promise<void> {
	const deadline = Date.now() + timeoutMs;
	while (!condition()) {
		if (Date.now() > deadline) {
			throw new Error(`not within ${timeoutMs} ms: ${what}`);
		}

		await new Promise((resolve) => setTimeout(resolve, 20));
	}
}
