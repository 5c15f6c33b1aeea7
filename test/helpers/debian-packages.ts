/**
 * The Debian packages the interop tests and the benchmark run (real peers, a real tracker, a
 * browser, a web server), and what to do when some are missing: as root, install them; otherwise
 * stop with one line saying what to type. `npm test` and `npm run bench` run this first
 * (ensure-packages.ts), so that `npm install && npm test` is the whole set-up, and a machine
 * without them fails once, at the start, instead of in a hundred tests.
 */
import {execFile} from 'node:child_process';

/** Each package, and whether `npm test` (`tests`) or `npm run bench` (`bench`) runs its programs. */
const needs: ReadonlyArray<{name: string; tests: boolean; bench: boolean}> = [
	// Real peers: test/helpers/libtorrent-peer.py, run by Debian's /usr/bin/python3.
	{name: 'python3-libtorrent', tests: true, bench: true},
	// aria2c, as seeder and as downloader.
	{name: 'aria2', tests: true, bench: true},
	// The real tracker of the interop tests and of the benchmark.
	{name: 'opentracker', tests: true, bench: true},
	// The web view's end-to-end test, driven by playwright-core (which brings no browser).
	{name: 'chromium', tests: true, bench: false},
	// `unshare -n`: a replay in a network namespace with no network at all.
	{name: 'util-linux', tests: true, bench: false},
	// `mount -t tmpfs`: the disk-full tests.
	{name: 'mount', tests: true, bench: false},
	// GNU time: each downloader's CPU seconds and peak RSS.
	{name: 'time', tests: false, bench: true},
	// wat2wasm: the RC4 module's bytes are checked against its source (source/codec/rc4.wat).
	{name: 'wabt', tests: true, bench: false},
	// A real web seed (BEP 19), test/helpers/nginx.ts. `nginx` is the package with /usr/sbin/nginx:
	// bookworm's nginx-light is only a transitional package that depends on it.
	{name: 'nginx', tests: true, bench: false},
];

export type Purpose = 'tests' | 'bench';

/** The packages `purpose` needs, in a fixed order. */
export function packagesFor(purpose: Purpose): string[] {
	return needs.filter((need) => need[purpose]).map((need) => need.name);
}

/** What to do about the missing packages. */
export type Plan =
	| {kind: 'ready'}
	/** Run these in order, then check again. */
	| {kind: 'install'; commands: string[][]; env: Record<string, string>}
	/** Print `message` (one line) and exit non-zero. */
	| {kind: 'stop'; message: string};

const aptInstall = ['apt-get', 'install', '-y', '--no-install-recommends'];

/**
 * The decision alone, without looking at the machine: `missing` as `missingPackages` found it
 * (undefined when there is no dpkg-query to ask), `root` whether this process may install.
 */
export function planPackages(
	missing: readonly string[] | undefined,
	{root, purpose}: {root: boolean; purpose: Purpose},
): Plan {
	const wanted = packagesFor(purpose).join(' ');
	const command = purpose === 'tests' ? 'npm test' : 'npm run bench';
	if (missing === undefined) {
		return {
			kind: 'stop',
			message: `${command} needs the Debian packages ${wanted}, and this machine has no dpkg-query to check for them: run it on Debian or Ubuntu`,
		};
	}

	if (missing.length === 0) {
		return {kind: 'ready'};
	}

	if (root) {
		return {
			kind: 'install',
			// One update: a fresh image has no package lists at all.
			commands: [
				['apt-get', 'update'],
				[...aptInstall, ...missing],
			],
			env: {DEBIAN_FRONTEND: 'noninteractive'},
		};
	}

	const names = missing.join(' ');
	return {
		kind: 'stop',
		message: `${command} needs the Debian packages ${names}: install them with \`sudo apt-get update && sudo ${aptInstall.join(' ')} ${names}\` (as root, ${command} installs them itself)`,
	};
}

/**
 * The packages of `wanted` that `dpkg-query -W` output (`${Package} ${db:Status-Abbrev}` lines)
 * does not show as installed. A package removed but not purged (`rc`) is missing; one dpkg-query
 * has never heard of has no line at all.
 */
export function notInstalled(wanted: readonly string[], dpkgOutput: string): string[] {
	const installed = new Set<string>();
	for (const line of dpkgOutput.split('\n')) {
		const [name, status] = line.trim().split(/\s+/);
		// `ii`: selected for install, and installed.
		if (name && status?.startsWith('ii')) {
			installed.add(name);
		}
	}

	return wanted.filter((name) => !installed.has(name));
}

/**
 * Asks dpkg once, without apt (fast when all is there): the packages of `wanted` that are not
 * installed, or undefined when this machine has no dpkg-query.
 */
export function missingPackages(wanted: readonly string[]): Promise<string[] | undefined> {
	return new Promise((resolve, reject) => {
		execFile(
			'dpkg-query',
			// biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query's own format, not a template.
			['-W', '-f', '${Package} ${db:Status-Abbrev}\n', ...wanted],
			{timeout: 30_000},
			(error, stdout) => {
				if ((error as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
					resolve(undefined);
				} else if (error && error.code !== 1) {
					// 1 is dpkg-query's answer when some package is unknown: its lines say which.
					reject(error);
				} else {
					resolve(notInstalled(wanted, stdout));
				}
			},
		);
	});
}
