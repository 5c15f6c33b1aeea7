/**
 * Typed errors: each carries a stable `name` the CLI can map to one line and an exit code, and
 * keeps the underlying failure as `cause` for `--debug`.
 */
export class TorrentRxError extends Error {
	constructor(message: string, options?: {cause?: unknown}) {
		super(message, options);
		this.name = new.target.name;
	}
}

/** The .torrent file (or a metadata dictionary) is malformed or unsafe. */
export class MetainfoError extends TorrentRxError {}

/** A tracker could not be reached or answered with a failure. */
export class TrackerError extends TorrentRxError {}

/** A peer broke the wire protocol; the connection is dropped, the run goes on. */
export class PeerProtocolError extends TorrentRxError {}

/** Reading or writing the payload files failed. */
export class StorageError extends TorrentRxError {}

/** The command line asked for something impossible. */
export class UsageError extends TorrentRxError {}

/** One line for a human: the message, and the cause's message when it adds something. */
export function describeError(error: unknown): string {
	if (!(error instanceof Error)) {
		return String(error);
	}

	const cause = error.cause instanceof Error ? error.cause.message : undefined;
	return cause && !error.message.includes(cause) ? `${error.message}: ${cause}` : error.message;
}
