declare module 'bittorrent-dht' {
	import {EventEmitter} from 'node:events';

	type Node = {host: string; port: number};

	export type DHTOptions = {
		nodeId?: Buffer | string;
		/** Nodes to join the DHT through, as `host:port`; false for none. */
		bootstrap?: string[] | false;
		host?: string | false;
	};

	/** The part of bittorrent-dht's API torrent-rx uses (BEP 5). */
	export default class DHT extends EventEmitter {
		constructor(options?: DHTOptions);
		listen(port?: number, address?: string, onListening?: () => void): void;
		address(): {address: string; family: string; port: number};
		lookup(
			infoHash: Buffer | string,
			callback?: (error: Error | null, nodesWithPeers?: number) => void,
		): () => void;
		announce(infoHash: Buffer | string, port?: number, callback?: (error: Error | null) => void): void;
		addNode(node: Node): void;
		toJSON(): {nodes: Node[]};
		destroy(callback?: () => void): void;
		on(event: 'peer', listener: (peer: Node, infoHash: Buffer, from: Node) => void): this;
		on(event: 'ready' | 'listening', listener: () => void): this;
		/** A peer announced itself to this node (a test's bootstrap node watches for it). */
		on(event: 'announce', listener: (peer: Node, infoHash: Buffer) => void): this;
		on(event: 'error' | 'warning', listener: (error: Error) => void): this;
	}
}
