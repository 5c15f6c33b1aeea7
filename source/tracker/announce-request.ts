/** What a client tells a tracker in each announce (BEP 3). */
export type AnnounceEvent = 'started' | 'completed' | 'stopped';

export type AnnounceRequest = {
	infoHash: Buffer;
	peerId: Buffer;
	port: number;
	uploaded: number;
	downloaded: number;
	left: number;
	/** Absent for a regular re-announce. */
	event?: AnnounceEvent;
	numwant: number;
	trackerId?: string;
};

/** Percent-encodes raw bytes as trackers expect for `info_hash` and `peer_id`. */
export function percentEncodeBytes(bytes: Buffer): string {
	let text = '';
	for (const byte of bytes) {
		const char = String.fromCharCode(byte);
		text += /[A-Za-z0-9.\-_~]/.test(char) ? char : `%${byte.toString(16).padStart(2, '0').toUpperCase()}`;
	}

	return text;
}

/** The announce URL with the BEP 3 query, keeping any query the tracker URL already has (passkeys). */
export function announceUrl(trackerUrl: string, request: AnnounceRequest): string {
	const parameters = [
		`info_hash=${percentEncodeBytes(request.infoHash)}`,
		`peer_id=${percentEncodeBytes(request.peerId)}`,
		`port=${request.port}`,
		`uploaded=${request.uploaded}`,
		`downloaded=${request.downloaded}`,
		`left=${request.left}`,
		'compact=1',
		`numwant=${request.numwant}`,
	];
	if (request.event) {
		parameters.push(`event=${request.event}`);
	}

	if (request.trackerId) {
		parameters.push(`trackerid=${encodeURIComponent(request.trackerId)}`);
	}

	return `${trackerUrl}${trackerUrl.includes('?') ? '&' : '?'}${parameters.join('&')}`;
}
