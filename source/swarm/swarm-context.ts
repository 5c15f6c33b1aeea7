import type {Observable, SchedulerLike} from 'rxjs';
import type {PeerAddress} from '../codec/compact-peers.js';
import type {PiecePicker} from '../download/piece-picker.js';
import type {RequestWindowOptions} from '../download/request-window.js';
import type {ConnectPort} from '../peer/transport.js';
import type {UploadStats} from '../serve/serve-to-peer.js';
import type {PieceStore} from '../storage/disk.js';
import type {PieceVerifier} from '../verify/piece-verifier.js';
import type {PeerReputation} from './reputation.js';

/** The swarm's I/O: dialling, verifying, the files. */
export type SwarmPorts = {
	connect: ConnectPort;
	verifyPiece: PieceVerifier;
	store: PieceStore;
	/** Reads a block of a verified piece, for serving it. */
	readBlock: (index: number, begin: number, length: number) => Observable<Buffer>;
	/** The block at once if it is in memory. */
	peekBlock?: (index: number, begin: number, length: number) => Buffer | undefined;
};

/** What a session shares with the rest of the swarm about its peer. */
export type PeerStats = UploadStats & {downloaded: number; snubbed: boolean};

/** Fixed for the run: the torrent, who we are, and the protocol's limits and periods. */
export type SwarmSettings = {
	infoHash: Buffer;
	peerId: Buffer;
	pieceSize: (index: number) => number;
	window: RequestWindowOptions;
	tickMs: number;
	handshakeTimeoutMs: number;
	maxQueuedRequests: number;
	/** The info dictionary, for peers that fetch it by BEP 9 (none: we do not offer it). */
	infoBytes?: Buffer;
	/** Our port and name in the extended handshake (BEP 10). */
	listenPort: number;
	clientName: string;
	/** Peer exchange (BEP 11): absent for a private torrent (BEP 27). */
	pex?: {dialable: () => PeerAddress[]; intervalMs: number};
	scheduler?: SchedulerLike;
};

/** What the peers of one swarm share while it runs. */
export type SwarmShared = {
	picker: PiecePicker;
	/** The connected peers, for the choker. */
	peers: Map<string, PeerStats>;
	/** The choker's current set of unchoked peers (replayed to newcomers). */
	unchoked$: Observable<ReadonlySet<string>>;
	/** Tells the choker that a peer's interest changed. */
	interestChanged: () => void;
	/** Payload bytes sent to all peers, for the announces and the seed ratio. */
	totals: {uploaded: number};
};

/** Everything a peer session needs from its swarm, in three parts of different lifetimes and owners. */
export type SwarmContext = {
	settings: SwarmSettings;
	shared: SwarmShared;
	reputation: PeerReputation;
};
