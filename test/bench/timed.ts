import {spawn} from 'node:child_process';
import {createHash} from 'node:crypto';
import {createReadStream} from 'node:fs';
import {stat} from 'node:fs/promises';
import process from 'node:process';

/** What GNU time says of one download. */
export type Measure = {
	wallSeconds: number;
	cpuSeconds: number;
	peakRssMiB: number;
	writtenBytes: number;
	startupSeconds?: number;
};

/** How long one download may take before it counts as a failed run. */
export const downloadTimeoutSeconds = 660;

/** Seconds from now until `file` first holds data on disk (polled), or undefined if it never does. */
function firstDataOnDisk(file: string): {seconds(): number | undefined; stop(): void} {
	const started = performance.now();
	let seconds: number | undefined;
	const timer = setInterval(() => {
		stat(file)
			.then((stats) => {
				if (stats.blocks > 0 && seconds === undefined) {
					seconds = (performance.now() - started) / 1000;
					clearInterval(timer);
				}
			})
			.catch(() => undefined);
	}, 10);
	return {seconds: () => seconds, stop: () => clearInterval(timer)};
}

/**
 * Runs `command` under GNU time: wall seconds, user+sys CPU seconds and peak RSS of that process
 * alone (and of the `timeout` around it, next to nothing), and the bytes it wrote (`%O`, in
 * 512-byte blocks: what the kernel counted as written, the page cache's and direct I/O's alike);
 * with `watchFile`, also the start-up time
 * until that file first holds data.
 *
 * coreutils' `timeout` ends a download that hangs (a client that cannot agree on encryption with
 * any seeder retries for ever): killing /usr/bin/time instead would leave the downloader running,
 * holding the pipes open. time's figures still cover the downloader, as `timeout` waits for it
 * (wait4 counts waited-for descendants, peak RSS included); `--foreground` keeps it in our
 * process group, so Ctrl-C still reaches the downloader.
 */
export function timed(
	command: string[],
	{env, watchFile}: {env?: NodeJS.ProcessEnv; watchFile?: string} = {},
): Promise<Measure & {code: number | null; output: string}> {
	return new Promise((resolve, reject) => {
		const child = spawn(
			'/usr/bin/time',
			[
				'-f',
				'BENCH %e %U %S %M %O',
				'timeout',
				'--foreground',
				'--signal=KILL',
				String(downloadTimeoutSeconds),
				...command,
			],
			{stdio: ['ignore', 'pipe', 'pipe'], env: env ?? process.env},
		);
		const startup = watchFile ? firstDataOnDisk(watchFile) : undefined;
		let output = '';
		child.stdout.on('data', (chunk: Buffer) => {
			output += chunk.toString();
		});
		child.stderr.on('data', (chunk: Buffer) => {
			output += chunk.toString();
		});
		child.once('error', reject);
		child.once('close', (code) => {
			startup?.stop();
			const match = /BENCH ([\d.]+) ([\d.]+) ([\d.]+) (\d+) (\d+)/.exec(output);
			if (!match) {
				reject(new Error(`no measurement from ${command.join(' ')}:\n${output.slice(-2000)}`));
				return;
			}

			resolve({
				code,
				output,
				wallSeconds: Number(match[1]),
				cpuSeconds: Number(match[2]) + Number(match[3]),
				peakRssMiB: Number(match[4]) / 1024,
				writtenBytes: Number(match[5]) * 512,
				...(startup?.seconds() === undefined ? {} : {startupSeconds: startup.seconds()}),
			});
		});
	});
}

/** The SHA-1 of a file a client wrote, read as a stream: every benchmark checks what it downloaded. */
export async function sha1Of(file: string): Promise<string> {
	const hash = createHash('sha1');
	for await (const chunk of createReadStream(file)) {
		hash.update(chunk as Buffer);
	}

	return hash.digest('hex');
}

/**
 * aria2c downloading `torrentPath` into `outputDir` as the benchmarks run it: quiet, no seeding, no
 * DHT, local discovery or peer exchange (only the swarm the benchmark built), no preallocation;
 * `extra` before the torrent.
 */
export function aria2cCommand(
	outputDir: string,
	torrentPath: string,
	extra: readonly string[] = [],
): string[] {
	return [
		'aria2c',
		'-q',
		`--dir=${outputDir}`,
		'--seed-time=0',
		'--enable-dht=false',
		'--enable-dht6=false',
		'--bt-enable-lpd=false',
		'--enable-peer-exchange=false',
		'--file-allocation=none',
		...extra,
		torrentPath,
	];
}
