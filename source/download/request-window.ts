/** How a peer's request window is sized, and when a peer counts as stalled or silent. */
export type RequestWindowOptions = {
	/** Requests in flight before the first rate measurement. */
	initialWindow: number;
	minWindow: number;
	maxWindow: number;
	/** Keep this many seconds of the measured rate in flight: the bandwidth-delay product with slack. */
	queueSeconds: number;
	/** No block for this long while requests are out: the peer is stalled and dropped. */
	requestTimeoutMs: number;
	/** Send a keep-alive when we have said nothing for this long (BEP 3 suggests 2 minutes). */
	keepAliveMs: number;
	/** Drop a peer that has said nothing for this long. */
	idleTimeoutMs: number;
};

export const defaultWindowOptions: RequestWindowOptions = {
	initialWindow: 32,
	minWindow: 8,
	// libtorrent queues up to 500 requests from a peer by default; more would be dropped.
	maxWindow: 500,
	queueSeconds: 2,
	requestTimeoutMs: 30_000,
	keepAliveMs: 90_000,
	idleTimeoutMs: 180_000,
};
