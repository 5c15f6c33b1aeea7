import net from 'node:net';
import {performance} from 'node:perf_hooks';
import {listenOnLoopback, type Teardown} from './swarm-fixture.js';

export type LinkOptions = {
	/** One-way delay added to every byte, each direction. */
	delayMs: number;
	/** Each direction's rate cap. */
	bytesPerSecond: number;
	/** Bytes a direction holds before it stops reading from its sender; at least the rate × delay. */
	maxHeldBytes: number;
};

/**
 * One direction of an emulated link: bytes leave `from` in order, no faster than the rate and
 * each `delayMs` after it was its turn on the wire, as behind a slow and distant router. It
 * holds at most `maxHeldBytes`; past that it stops reading, so TCP slows the sender down.
 */
class DelayLine {
	readonly #held: Array<{due: number; chunk: Buffer}> = [];
	#heldBytes = 0;
	/** When the wire is free for the next byte. */
	#wireFreeAt = 0;
	#timer: NodeJS.Timeout | undefined;
	#waitingForDrain = false;

	constructor(
		readonly from: net.Socket,
		readonly to: net.Socket,
		readonly options: LinkOptions,
	) {
		from.on('data', (chunk: Buffer) => this.#take(chunk));
		from.once('end', () => this.afterHeld(() => to.end()));
	}

	stop(): void {
		clearTimeout(this.#timer);
		this.#held.length = 0;
	}

	#take(chunk: Buffer): void {
		const now = performance.now();
		const start = Math.max(now, this.#wireFreeAt);
		this.#wireFreeAt = start + (chunk.length / this.options.bytesPerSecond) * 1000;
		this.#held.push({due: this.#wireFreeAt + this.options.delayMs, chunk});
		this.#heldBytes += chunk.length;
		if (this.#heldBytes >= this.options.maxHeldBytes) {
			this.from.pause();
		}

		this.#schedule();
	}

	#schedule(): void {
		const next = this.#held[0];
		if (this.#timer || this.#waitingForDrain || !next) {
			return;
		}

		this.#timer = setTimeout(() => this.#release(), Math.max(0, next.due - performance.now()));
	}

	#release(): void {
		this.#timer = undefined;
		const now = performance.now();
		for (let next = this.#held[0]; next && next.due <= now; next = this.#held[0]) {
			this.#held.shift();
			this.#heldBytes -= next.chunk.length;
			if (!this.to.write(next.chunk)) {
				this.#waitingForDrain = true;
				this.to.once('drain', () => {
					this.#waitingForDrain = false;
					this.#schedule();
				});
				break;
			}
		}

		if (this.#heldBytes < this.options.maxHeldBytes / 2 && this.from.isPaused()) {
			this.from.resume();
		}

		this.#schedule();
	}

	/** Runs `then` once every byte held has been passed on (or the line stopped). */
	afterHeld(then: () => void): void {
		if (this.#held.length === 0) {
			then();
			return;
		}

		setTimeout(() => this.afterHeld(then), 5);
	}
}

export type LatencyProxy = {port: number; stop(): Promise<void>};

/**
 * A TCP proxy on 127.0.0.1 to 127.0.0.1:`upstreamPort` that behaves like a long, slow link: both
 * directions delayed and rate-capped, with bounded buffers. The kernel here has no `netem`, so
 * the benchmark's high-latency scenario puts one of these in front of each seeder.
 */
export async function startLatencyProxy(
	t: Teardown,
	upstreamPort: number,
	options: LinkOptions,
): Promise<LatencyProxy> {
	const sockets = new Set<net.Socket>();
	const lines = new Set<DelayLine>();
	const server = net.createServer({noDelay: true}, (client) => {
		const upstream = net.connect({host: '127.0.0.1', port: upstreamPort, noDelay: true});
		const pair = [new DelayLine(client, upstream, options), new DelayLine(upstream, client, options)];
		for (const line of pair) {
			lines.add(line);
		}

		const close = () => {
			for (const line of pair) {
				line.stop();
				lines.delete(line);
			}

			client.destroy();
			upstream.destroy();
		};

		for (const [index, socket] of [client, upstream].entries()) {
			sockets.add(socket);
			socket.once('close', () => {
				sockets.delete(socket);
				// What it sent before closing is still on its way to the other side.
				pair[index]?.afterHeld(close);
			});
			// A reset is how a killed peer leaves: close both sides, nothing more.
			socket.on('error', () => undefined);
		}
	});
	return listenOnLoopback(t, server, 'the proxy', () => {
		for (const line of lines) {
			line.stop();
		}

		for (const socket of sockets) {
			socket.destroy();
		}
	});
}
