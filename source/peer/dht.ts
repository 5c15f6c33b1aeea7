import {closeSync, constants, openSync, readFileSync} from 'node:fs';
import path from 'node:path';
import type DHT from 'bittorrent-dht';
import {bufferTime, defer, filter, from, Observable, share, switchMap} from 'rxjs';
import type {PeerAddress} from '../codec/compact-peers.js';
import {TorrentRxError} from '../errors.js';
import {replaceInsideSync} from '../storage/own-files.js';

/** The well-known routers most clients join the DHT through (BEP 5). */
export const defaultDhtBootstrap = [
	'router.bittorrent.com:6881',
	'router.utorrent.com:6881',
	'dht.transmissionbt.com:6881',
	'dht.libtorrent.org:25401',
];

export type DhtOptions = {
	/** The UDP port to listen on; a free one when it is taken. */
	port: number;
	host: string;
	bootstrap: string[];
	/**
	 * Where the routing table is kept between runs (`<output folder>/.torrent-rx/dht.json`: it is
	 * never written outside the folder two levels up); none: start from the bootstrap nodes every time.
	 */
	stateFile?: string;
};

/** A DHT node (BEP 5) for the length of a run. */
export type Dht = {
	port: number;
	/**
	 * Looks `infoHash` up now and every `intervalMs`, announcing `announcePort` (our TCP port)
	 * after each lookup, and emits the peers found, in batches.
	 */
	peers(infoHash: Buffer, options: {announcePort?: number; intervalMs: number}): Observable<PeerAddress[]>;
};

function loadNodes(stateFile: string | undefined): Array<{host: string; port: number}> {
	if (!stateFile) {
		return [];
	}

	try {
		// Never read through a link at its name either (O_NOFOLLOW).
		const fd = openSync(stateFile, constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0));
		let text: string;
		try {
			text = readFileSync(fd, 'utf8');
		} finally {
			closeSync(fd);
		}

		const state = JSON.parse(text) as {nodes?: unknown};
		return Array.isArray(state.nodes)
			? state.nodes.filter(
					(node): node is {host: string; port: number} =>
						typeof node?.host === 'string' &&
						Number.isInteger(node?.port) &&
						node.port > 0 &&
						node.port < 65_536,
				)
			: [];
	} catch {
		// No state yet, or a damaged one: the bootstrap nodes will do.
		return [];
	}
}

function saveNodes(stateFile: string, nodes: Array<{host: string; port: number}>): void {
	try {
		// Synchronous: the save happens in a teardown, which cannot wait. Links planted in the output
		// folder are neither followed nor written through (own-files.ts).
		replaceInsideSync(path.dirname(path.dirname(stateFile)), stateFile, `${JSON.stringify({nodes})}\n`);
	} catch {
		// The next run bootstraps again; not worth failing this one's end.
	}
}

/** Resolves once the node has joined (bittorrent-dht's `ready`), or after ten seconds at most. */
function ready(dht: InstanceType<typeof DHT> & {ready?: boolean}) {
	let cancel = () => undefined as unknown;
	const promise = new Promise<void>((resolve, reject) => {
		if (dht.ready) {
			resolve();
			return;
		}

		const timer = setTimeout(resolve, 10_000);
		const onReady = () => {
			clearTimeout(timer);
			resolve();
		};

		dht.once('ready', onReady);
		cancel = () => {
			clearTimeout(timer);
			dht.off('ready', onReady);
			reject(new Error('cancelled'));
		};
	});
	return {promise, cancel};
}

function listen(dht: InstanceType<typeof DHT>, port: number, host: string): Promise<void> {
	return new Promise((resolve, reject) => {
		const onError = (error: Error) => reject(error);
		dht.once('error', onError);
		dht.listen(port, host, () => {
			dht.off('error', onError);
			resolve();
		});
	});
}

/**
 * Joins the DHT for as long as subscribed: emits the node once listening (on `port`, or a
 * free one), and on teardown saves the routing table to `stateFile` and leaves.
 */
export function openDht(options: DhtOptions): Observable<Dht> {
	// Loaded only by runs that use it: it costs start-up time.
	return defer(() => from(import('bittorrent-dht'))).pipe(
		switchMap(({default: DhtNode}) => joinDht(DhtNode, options)),
	);
}

function joinDht(DhtNode: typeof DHT, options: DhtOptions): Observable<Dht> {
	return new Observable<Dht>((subscriber) => {
		const known = loadNodes(options.stateFile);
		const createNode = () => {
			const created = new DhtNode({bootstrap: options.bootstrap});
			// Once listening, errors are a node's business (a bad packet, an unreachable host), never the run's.
			created.on('error', () => undefined);
			for (const node of known) {
				created.addNode(node);
			}

			return created;
		};

		let dht = createNode();

		const peer$ = new Observable<{peer: PeerAddress; infoHash: Buffer}>((peerSubscriber) => {
			const onPeer = (peer: PeerAddress, infoHash: Buffer) => peerSubscriber.next({peer, infoHash});
			dht.on('peer', onPeer);
			return () => dht.off('peer', onPeer);
		}).pipe(share());

		const node = (port: number): Dht => ({
			port,
			peers(infoHash, {announcePort, intervalMs}) {
				return new Observable<PeerAddress[]>((peersSubscriber) => {
					const found = peer$
						.pipe(
							filter((event) => event.infoHash.equals(infoHash)),
							bufferTime(500),
							filter((batch) => batch.length > 0),
						)
						.subscribe((batch) => peersSubscriber.next(batch.map((event) => event.peer)));
					let abortLookup = () => undefined as unknown;
					const lookup = () => {
						abortLookup = dht.lookup(infoHash, () => {
							if (announcePort !== undefined) {
								dht.announce(infoHash, announcePort);
							}
						});
					};

					// A lookup before the routing table has any node would find nothing: wait until it is ready.
					const whenReady = ready(dht);
					whenReady.promise.then(lookup, () => undefined);
					const again = setInterval(lookup, intervalMs);
					return () => {
						whenReady.cancel();
						clearInterval(again);
						abortLookup();
						found.unsubscribe();
					};
				});
			},
		});

		listen(dht, options.port, options.host)
			.catch(async () => {
				// The port is taken (by another client's DHT, say): any free one will do.
				dht.destroy();
				dht = createNode();
				await listen(dht, 0, options.host);
			})
			.then(
				() => subscriber.next(node(dht.address().port)),
				(error: unknown) => subscriber.error(new TorrentRxError('cannot join the DHT', {cause: error})),
			);
		return () => {
			if (options.stateFile) {
				saveNodes(options.stateFile, dht.toJSON().nodes);
			}

			dht.destroy();
		};
	});
}
