import {TorrentRxError} from '../errors.js';

/** What went wrong with one range request to a web seed (BEP 19), in the terms a retry policy needs. */
export type WebSeedFailureKind =
	| 'not-found'
	| 'forbidden'
	| 'server-error'
	| 'http-status'
	| 'bad-range'
	| 'too-short'
	| 'reset'
	| 'stall'
	| 'redirect'
	| 'refused-address'
	| 'connect';

/** The kinds a later try may cure: the server or the path to it was having a bad moment. */
const retryableKinds: ReadonlySet<WebSeedFailureKind> = new Set([
	'server-error',
	'reset',
	'stall',
	'connect',
]);

/**
 * Why a range could not be fetched; `retryable` says whether a later try may work (5xx, reset,
 * stall, connect) or not (404, 403, bad range, refused redirect). `status` is the HTTP status when
 * the server answered with one.
 */
export class WebSeedError extends TorrentRxError {
	readonly kind: WebSeedFailureKind;
	readonly retryable: boolean;
	readonly status?: number;

	constructor(
		kind: WebSeedFailureKind,
		message: string,
		options: {cause?: unknown; status?: number; retryable?: boolean} = {},
	) {
		super(message, {cause: options.cause});
		this.kind = kind;
		// A connection that cannot work however often it is tried (a certificate we do not trust)
		// overrides the kind's default.
		this.retryable = options.retryable ?? retryableKinds.has(kind);
		if (options.status !== undefined) {
			this.status = options.status;
		}
	}
}
