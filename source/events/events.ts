import type {AnnounceEvent} from '../tracker/announce-request.js';

/**
 * Everything that happens in a run, as plain serialisable data. Stages emit these; the status
 * views, the history log and (later) metrics all read the same stream.
 */
export type RunEvent =
	| {
			type: 'started';
			name: string;
			infoHash: string;
			pieceCount: number;
			pieceLength: number;
			totalLength: number;
			/**
			 * The user's files (pad files left out), numbered from 1 as `info` prints them: where each
			 * lies in the payload, and whether it is selected. Absent in logs from before it was recorded.
			 */
			files?: Array<{number: number; path: string; offset: number; length: number; selected: boolean}>;
	  }
	/** Checking the data already on disk (resume): pieces checked so far of those to check. */
	| {type: 'checking'; checked: number; total: number}
	/**
	 * The check is done: `pieces` of `total` (`bytes` in all) were verified and will not be
	 * downloaded again; `have`, which they are (the bitfield, base64), when there are any.
	 */
	| {type: 'checked'; pieces: number; total: number; bytes?: number; fromResumeFile?: boolean; have?: string}
	| {type: 'announce-sent'; tracker: string; event: AnnounceEvent | 'regular'}
	| {
			type: 'announce-answered';
			tracker: string;
			event: AnnounceEvent | 'regular';
			peers: Array<{host: string; port: number}>;
			interval: number;
			seeders?: number;
			leechers?: number;
			warning?: string;
			/** Addresses the history log left out of this line: it keeps the first few, and counts the rest. */
			omitted?: number;
	  }
	| {type: 'announce-failed'; tracker: string; event: AnnounceEvent | 'regular'; reason: string}
	| {type: 'no-peers'}
	/** `source`: where we learnt of the peer; absent in logs from before it was recorded. */
	| {type: 'peer-connecting'; peer: string; source?: PeerSource}
	/**
	 * Addresses a peer told us about (BEP 11 PEX): `count` it named (50 at most are read), `peers`
	 * those that joined the swarm's candidates (absent `count`: logs from before it was recorded).
	 */
	| {
			type: 'peers-found';
			source: PeerSource;
			from: string;
			peers: Array<{host: string; port: number}>;
			count?: number;
	  }
	/** `protection`: how the connection's bytes travel (MSE/PE); absent in logs from before it. */
	| {type: 'peer-connected'; peer: string; peerId: string; protection?: 'rc4' | 'plaintext'}
	/** The client name a peer gave in its extended handshake (BEP 10 `v`). */
	| {type: 'peer-identified'; peer: string; client: string}
	/** A magnet link's run: looking for the info dictionary (BEP 9) before anything else. */
	| {type: 'metadata-fetching'; infoHash: string; name?: string}
	/** The info dictionary is in and verified, saved as `torrentFile`. */
	| {type: 'metadata-fetched'; name: string; bytes: number; torrentFile: string}
	| {type: 'peer-choked'; peer: string}
	| {type: 'peer-unchoked'; peer: string}
	| {type: 'peer-disconnected'; peer: string; reason: string}
	| {type: 'piece-started'; peer: string; index: number}
	/** `durationMs`: from the first request for the piece to its hash checked and written. */
	| {type: 'piece-verified'; peer: string; index: number; bytes: number; durationMs?: number}
	| {type: 'piece-failed'; peer: string; index: number; strikes: number}
	/** Payload bytes sent to a peer since its previous `uploaded` event (about one a second). */
	| {type: 'uploaded'; peer: string; bytes: number}
	/**
	 * A link of the torrent (BEP 47 `attr` `l`) not made, and why; `path` and `target` from the
	 * torrent's name down. A run reports 20 at most: `omitted` on the last counts those after it.
	 */
	| {type: 'link-skipped'; path: string; target: string; reason: string; omitted?: number}
	/** A web seed (BEP 19) sent its first verified piece: it is a source of the run from now on. */
	| {type: 'web-seed-connected'; seed: string}
	/**
	 * A web seed failed: `reason` says how; with `retryInMs` it is asked again after that long,
	 * without it the seed is dropped for the rest of the run.
	 */
	| {type: 'web-seed-failed'; seed: string; reason: string; retryInMs?: number}
	| {type: 'completed'; bytes: number}
	/** Every piece is in and the run goes on serving them. */
	| {type: 'seeding'}
	| {type: 'error'; message: string};

export type RunEventType = RunEvent['type'];

/** How we learnt of a peer: a tracker, a magnet link's `x.pe`, the DHT, peer exchange, local discovery, or it called us. */
export type PeerSource = 'tracker' | 'magnet' | 'dht' | 'pex' | 'lsd' | 'incoming';

/** An event with the time it happened, in milliseconds since the epoch (or virtual time in tests). */
export type TimedEvent = RunEvent & {at: number};
