import type {IncomingMessage} from 'node:http';
import type {BodyPlan} from './range-response.js';
import {WebSeedError} from './web-seed-error.js';

/** Where the bytes of a body go, and what becomes of the read. */
export type BodySink = {
	/** Some bytes arrived (kept or skipped): the read is not stalled. */
	activity(): void;
	/** The next bytes of the range, in order. */
	chunk(bytes: Buffer): void;
	/** The whole range is in. */
	done(): void;
	fail(error: WebSeedError): void;
};

/**
 * Streams the bytes `plan` keeps out of `response` into `sink`, never holding more than the
 * chunk at hand: the bytes before them are read and dropped (a `200` from a server that ignored
 * `Range`), the bytes after them are never read, as the response is destroyed once the range is
 * in unless its framing ends right there (then it is read to its end, so that the keep-alive
 * connection goes back to the agent). A body that ends early is `too-short`; a connection lost
 * mid-body (a reset, or a close before the framing's end) is `reset`.
 */
export function readRange(response: IncomingMessage, plan: BodyPlan, sink: BodySink): void {
	const stop = plan.skip + plan.length;
	let position = 0;
	let settled = false;
	const settle = (then: () => void) => {
		if (!settled) {
			settled = true;
			then();
		}
	};

	response.on('data', (chunk: Buffer) => {
		if (settled) {
			return;
		}

		sink.activity();
		const from = Math.max(plan.skip - position, 0);
		const to = Math.min(stop - position, chunk.length);
		position += chunk.length;
		if (to > from) {
			sink.chunk(from === 0 && to === chunk.length ? chunk : chunk.subarray(from, to));
		}

		if (position >= stop && !(plan.exact && position === stop)) {
			// More than asked (or a framing that says nothing of the end): cut here; the rest of
			// this body would be read into a connection that is never reused.
			settle(() => sink.done());
			response.destroy();
		}
	});
	response.once('end', () => {
		settle(() =>
			position >= stop
				? sink.done()
				: sink.fail(
						new WebSeedError(
							'too-short',
							`the body ended after ${Math.max(position - plan.skip, 0)} of ${plan.length} bytes`,
							{status: response.statusCode},
						),
					),
		);
	});
	response.on('error', (error) => {
		settle(() =>
			sink.fail(
				new WebSeedError('reset', `the connection was lost after ${position} body bytes`, {
					cause: error,
					status: response.statusCode,
				}),
			),
		);
	});
}
