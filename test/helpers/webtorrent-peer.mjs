/**
 * One WebTorrent client in a process of its own, for the interop tests (webtorrent.ts starts it):
 *   node webtorrent-peer.mjs WEBTORRENT_INDEX_JS '{"mode":"seed"|"download","torrentPath":…,"dir":…}'
 * `dir` is the folder holding (seed) or receiving (download) the payload. The torrent's own
 * trackers are its only way to peers: no DHT, local peer discovery, uTP, NAT traversal or web
 * seeds. WebTorrent's default `secure: 1` stands: MSE/PE on its outgoing connections, falling back
 * to plaintext, and either kind taken in.
 *
 * It prints one JSON object a line on stdout:
 *   {"type":"ready","port":…,"infoHash":…}  listening, and (seed) every piece checked on disk
 *   {"type":"wire","peer":…,"direction":"incoming"|"outgoing","mse":…,"protection":"rc4"|"plaintext"}
 *                                           a peer's BitTorrent handshake is in
 *   {"type":"done"}                         (download) every piece is in and the files are closed
 *   {"type":"error","message":…}            and exits 1
 */
import {readFile} from 'node:fs/promises';
import process from 'node:process';
import {pathToFileURL} from 'node:url';

const [, , webtorrentIndex, configJson] = process.argv;
if (!webtorrentIndex || !configJson) {
	console.error('usage: node webtorrent-peer.mjs WEBTORRENT_INDEX_JS CONFIG_JSON');
	process.exit(2);
}

const config = JSON.parse(configJson);
const print = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);
const fail = (error) => {
	print({type: 'error', message: String(error?.stack ?? error)});
	process.exit(1);
};

process.on('uncaughtException', fail);
process.on('unhandledRejection', fail);

const {default: WebTorrent} = await import(pathToFileURL(webtorrentIndex).href);
const client = new WebTorrent({
	dht: false,
	lsd: false,
	utp: false,
	natUpnp: false,
	natPmp: false,
	webSeeds: false,
	torrentPort: config.port ?? 0,
});
client.on('error', fail);

const torrent = client.add(await readFile(config.torrentPath), {path: config.dir});
torrent.on('error', fail);
torrent.on('warning', (warning) => console.error(`warning: ${warning?.message ?? warning}`));
torrent.on('wire', (wire) => {
	// bittorrent-protocol keeps the MSE/PE outcome in getters of its own (mse.js): no encryptor
	// or no method chosen means a plain BitTorrent handshake; method 1 is plaintext after an MSE
	// handshake, 2 is RC4.
	const method = wire._encryptionMethod;
	print({
		type: 'wire',
		peer: `${wire.remoteAddress}:${wire.remotePort}`,
		direction: wire.type.includes('Incoming') ? 'incoming' : 'outgoing',
		mse: method === 1 || method === 2,
		protection: method === 2 ? 'rc4' : 'plaintext',
	});
});

// WebTorrent checks the files on disk before 'ready', and marks the torrent done just after it.
torrent.once('ready', () =>
	process.nextTick(() => {
		if (config.mode === 'seed' && !torrent.done) {
			const have = torrent.pieces.filter((_, index) => torrent.bitfield.get(index)).length;
			fail(`the seeder found ${have} of ${torrent.pieces.length} pieces in ${config.dir}`);
			return;
		}

		const ready = () => print({type: 'ready', port: client.torrentPort, infoHash: torrent.infoHash});
		if (client.listening) {
			ready();
		} else {
			client.once('listening', ready);
		}
	}),
);

if (config.mode === 'download') {
	torrent.once('done', () => {
		// Destroying the client closes the files: once it calls back, everything is on disk.
		client.destroy((error) => {
			if (error) {
				fail(error);
				return;
			}

			print({type: 'done'});
			process.exit(0);
		});
	});
}

for (const signal of ['SIGINT', 'SIGTERM']) {
	process.once(signal, () => client.destroy(() => process.exit(0)));
}
