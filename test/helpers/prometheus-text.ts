/** Parses the Prometheus text format into `name{labels}` → value, skipping comments. */
export function parsePrometheusText(text: string): Map<string, number> {
	const samples = new Map<string, number>();
	for (const line of text.split('\n')) {
		if (line === '' || line.startsWith('#')) {
			continue;
		}

		const match = /^([a-zA-Z_:][\w:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
		if (!match?.[1] || match[2] === undefined) {
			throw new Error(`not a sample line: ${line}`);
		}

		samples.set(match[1], Number(match[2]));
	}

	return samples;
}
