import {TrackerError} from '../errors.js';
import {bytesToText, decodeBencode, isBytes, isDictionary, isInteger} from './bencode.js';
import {decodeCompactPeers, type PeerAddress} from './compact-peers.js';

export type AnnounceResponse = {
	/** Seconds until the next regular announce. */
	interval: number;
	/** Seconds the tracker asks us to wait at least between announces. */
	minInterval?: number;
	peers: PeerAddress[];
	warning?: string;
	trackerId?: string;
	seeders?: number;
	leechers?: number;
};

/**
 * The peers read from one reply, all families together. We ask for 80 (`numwant`); a tracker
 * that sends 120,000 is not answering the question, and reading them all would cost the memory
 * and time of a flood.
 */
export const maxReplyPeers = 1000;

/** Trackers that send no interval get asked again after this long. */
export const defaultInterval = 1800;

/**
 * Parses an HTTP tracker's bencoded reply: compact (BEP 23) or dictionary peers, `peers6`
 * (BEP 7). A `failure reason` becomes a `TrackerError` carrying the tracker's own words.
 */
export function parseAnnounceResponse(body: Uint8Array): AnnounceResponse {
	let root: ReturnType<typeof decodeBencode>;
	try {
		root = decodeBencode(body);
	} catch (error) {
		throw new TrackerError('tracker sent a malformed reply', {cause: error});
	}

	if (!isDictionary(root)) {
		throw new TrackerError('tracker reply is not a dictionary');
	}

	const failure = root['failure reason'];
	if (failure !== undefined) {
		throw new TrackerError(`tracker failure: ${isBytes(failure) ? bytesToText(failure) : 'unspecified'}`);
	}

	const peers: PeerAddress[] = [];
	const peerList = root.peers;
	if (isBytes(peerList)) {
		// Appended one by one: a spread of 120,000 arguments overflows the stack (RangeError).
		for (const peer of decodeCompactPeers(peerList, 4, maxReplyPeers)) {
			peers.push(peer);
		}
	} else if (Array.isArray(peerList)) {
		for (const entry of peerList) {
			if (peers.length >= maxReplyPeers) {
				break;
			}

			if (!isDictionary(entry) || !isBytes(entry.ip) || !isInteger(entry.port)) {
				continue;
			}

			if (entry.port > 0 && entry.port < 65_536) {
				peers.push({host: bytesToText(entry.ip), port: entry.port});
			}
		}
	}

	if (isBytes(root.peers6)) {
		for (const peer of decodeCompactPeers(root.peers6, 6, maxReplyPeers - peers.length)) {
			peers.push(peer);
		}
	}

	const interval = isInteger(root.interval) && root.interval > 0 ? root.interval : defaultInterval;
	const response: AnnounceResponse = {interval, peers};
	const minInterval = root['min interval'];
	if (isInteger(minInterval) && minInterval >= 0) {
		response.minInterval = minInterval;
	}

	const warning = root['warning message'];
	if (isBytes(warning)) {
		response.warning = bytesToText(warning);
	}

	const trackerId = root['tracker id'];
	if (isBytes(trackerId)) {
		response.trackerId = bytesToText(trackerId);
	}

	if (isInteger(root.complete)) {
		response.seeders = root.complete;
	}

	if (isInteger(root.incomplete)) {
		response.leechers = root.incomplete;
	}

	return response;
}
