import process from 'node:process';
import type {ExecutionContext} from 'ava';
import fc from 'fast-check';

/**
 * How hard the fuzz suite tries. `npm test` runs a few hundred cases a property from a fixed
 * seed, so a red run is reproducible; `npm run fuzz` sets `FUZZ_RUNS` (and `FUZZ_SEED=random`)
 * for a long search. A failure prints its seed and path: `FUZZ_SEED=… FUZZ_PATH=… npx ava
 * test/fuzz/fuzz.test.ts --match '<its title>'` replays that one counterexample.
 */
const runsFromEnvironment = Number(process.env.FUZZ_RUNS);
const seedFromEnvironment = process.env.FUZZ_SEED;

/** The seed of the default run: any fixed number will do. */
export const defaultSeed = 0x70_22e7;

export type FuzzParameters = {numRuns: number; seed?: number; path?: string; endOnFailure?: boolean};

/**
 * For a `test.failing` property that shows a known bug: stop at the first counterexample instead
 * of shrinking it (the minimal one is written beside the test). Once the bug is fixed and the
 * test is a plain `test` again, drop this so a new failure shrinks.
 */
export const knownBug = (parameters: FuzzParameters): FuzzParameters => ({...parameters, endOnFailure: true});

/**
 * fast-check's parameters for one property: `defaultRuns` cases, or `FUZZ_RUNS` divided by
 * `cost` for a target whose cases are slow (files on disk, big torrents).
 */
export function fuzzParameters(defaultRuns: number, cost = 1): FuzzParameters {
	const numRuns =
		Number.isSafeInteger(runsFromEnvironment) && runsFromEnvironment > 0
			? Math.max(1, Math.round(runsFromEnvironment / cost))
			: defaultRuns;
	const seed =
		seedFromEnvironment === 'random'
			? undefined
			: seedFromEnvironment === undefined
				? defaultSeed
				: Number(seedFromEnvironment);
	return {
		numRuns,
		...(seed === undefined ? {} : {seed}),
		...(process.env.FUZZ_PATH ? {path: process.env.FUZZ_PATH} : {}),
	};
}

/** A counterexample as a person reads it: byte strings as latin1 text, which bencode mostly is. */
export function describeValue(value: unknown): string {
	if (value instanceof Uint8Array) {
		const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
		return bytes.length > 4096
			? `<${bytes.length} bytes, starting ${JSON.stringify(bytes.subarray(0, 200).toString('latin1'))}>`
			: `Buffer.from(${JSON.stringify(bytes.toString('latin1'))}, 'latin1')`;
	}

	if (typeof value === 'string') {
		return value.length > 4096 ? `<${value.length} characters>` : JSON.stringify(value);
	}

	if (Array.isArray(value)) {
		return `[${value.map(describeValue).join(', ')}]`;
	}

	if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
		return `{${Object.entries(value)
			.map(([key, item]) => `${JSON.stringify(key)}: ${describeValue(item)}`)
			.join(', ')}}`;
	}

	return fc.stringify(value);
}

function report<T>(details: fc.RunDetails<T>): string {
	const error = details.errorInstance;
	return [
		`Property failed after ${details.numRuns} cases (shrunk ${details.numShrinks} times).`,
		`Replay: FUZZ_SEED=${details.seed} FUZZ_PATH=${JSON.stringify(details.counterexamplePath ?? '')} npx ava test/fuzz/fuzz.test.ts --match '<this title>'`,
		`Counterexample: ${describeValue(details.counterexample)}`,
		`Error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
	].join('\n');
}

/**
 * Asserts a property in an ava test: a counterexample fails the test with the shrunk input, the
 * error and its stack, and the seed and path to replay it.
 */
export function holds<T extends [unknown, ...unknown[]]>(
	t: ExecutionContext,
	property: fc.IProperty<T>,
	parameters: FuzzParameters,
): void {
	const details = fc.check(property, parameters);
	t.false(details.failed, details.failed ? report(details) : undefined);
}

export async function holdsAsync<T extends [unknown, ...unknown[]]>(
	t: ExecutionContext,
	property: fc.IAsyncProperty<T>,
	parameters: FuzzParameters,
): Promise<void> {
	const details = await fc.check(property, parameters);
	t.false(details.failed, details.failed ? report(details) : undefined);
}

/** One decoding: the value, or the error it threw (checked by `expectOutcome`). */
export type Outcome<T> = {ok: true; value: T} | {ok: false; error: unknown};

/** More CPU time than this for one small input is a hang in the making (quadratic, or worse). */
export const timeBudgetMs = 1000;

/**
 * CPU milliseconds `run` takes: unlike the wall clock, not stretched when other processes have
 * the machine's cores, so a budget fails for the decoder's work only.
 */
export function cpuTime(run: () => void): number {
	const start = process.cpuUsage();
	run();
	const {user, system} = process.cpuUsage(start);
	return (user + system) / 1000;
}

/**
 * Runs `decode` and returns its value, or the error it threw when that error is one of
 * `errorTypes`. Any other error is rethrown as it is, so fast-check reports its own stack; a
 * call that takes more than `budgetMs` of CPU fails too.
 */
export function expectOutcome<T>(
	decode: () => T,
	errorTypes: ReadonlyArray<abstract new (...arguments_: never[]) => Error>,
	budgetMs = timeBudgetMs,
): Outcome<T> {
	let outcome: Outcome<T> | undefined;
	const elapsed = cpuTime(() => {
		try {
			outcome = {ok: true, value: decode()};
		} catch (error) {
			if (!errorTypes.some((type) => error instanceof type)) {
				throw error;
			}

			outcome = {ok: false, error};
		}
	});
	if (elapsed > budgetMs) {
		throw new Error(`decoding took ${Math.round(elapsed)} ms of CPU, more than the ${budgetMs} ms allowed`);
	}

	invariant(outcome !== undefined, 'decoded');
	return outcome;
}

/**
 * `expectOutcome` for decoders that read files. Tests of one file run concurrently, so CPU time
 * is not theirs alone: this budget is wall-clock time, and generous.
 */
export async function expectOutcomeAsync<T>(
	decode: () => Promise<T>,
	errorTypes: ReadonlyArray<abstract new (...arguments_: never[]) => Error>,
	budgetMs = 5 * timeBudgetMs,
): Promise<Outcome<T>> {
	const start = performance.now();
	let outcome: Outcome<T>;
	try {
		outcome = {ok: true, value: await decode()};
	} catch (error) {
		if (!errorTypes.some((type) => error instanceof type)) {
			throw error;
		}

		outcome = {ok: false, error};
	}

	const elapsed = performance.now() - start;
	if (elapsed > budgetMs) {
		throw new Error(`decoding took ${Math.round(elapsed)} ms, more than the ${budgetMs} ms allowed`);
	}

	return outcome;
}

/** Throws with `message` unless `condition` holds: an invariant inside a property. */
export function invariant(condition: boolean, message: string): asserts condition {
	if (!condition) {
		throw new Error(`invariant broken: ${message}`);
	}
}

/**
 * Bytes the process holds in ArrayBuffers (Buffers included) after `run`, less those before:
 * a decoder that trusts a length prefix of 2 GiB shows up here as about 2 GiB.
 */
export function arrayBufferGrowth(run: () => void): number {
	const before = process.memoryUsage().arrayBuffers;
	run();
	return process.memoryUsage().arrayBuffers - before;
}

/** True when `text` holds a C0 or C1 control character: ESC and the start of every escape sequence among them. */
export function hasControlCharacters(text: string): boolean {
	return [...text].some((char) => {
		const code = char.codePointAt(0) ?? 0;
		return code < 0x20 || (code >= 0x7f && code < 0xa0);
	});
}
