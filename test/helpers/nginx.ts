/**
 * Debian's nginx as a web seed (BEP 19) for tests: a real HTTP/1.1 server with byte ranges,
 * keep-alive and sendfile, on 127.0.0.1, serving a folder, with a configuration, logs and pid
 * file of its own in a temporary folder. Nothing of /etc/nginx, /var/log/nginx or /var/lib/nginx
 * is read or written, so it runs as root (as CI does) and as anyone else alike.
 */
import {spawn} from 'node:child_process';
import {readFile, writeFile} from 'node:fs/promises';
import path from 'node:path';
import {daemonListening, freePort, killProcess, type Teardown, tempDir, track} from './swarm-fixture.js';

const nginxBinary = '/usr/sbin/nginx';

export type Nginx = {
	/** `http://127.0.0.1:PORT/`: the served folder's URL, with its trailing slash. */
	url: string;
	port: number;
	/**
	 * The access log, a line a request: `CONNECTION REQUESTS "REQUEST LINE" range="RANGE" STATUS
	 * BYTES`, where CONNECTION is nginx's serial number of the TCP connection (the same on every
	 * request of a kept-alive one), REQUESTS the request's number on it, RANGE the `Range`
	 * header as sent (`-` when there is none, as nginx logs an empty value) and BYTES the body
	 * bytes sent. nginx writes a line just after the response's last byte, so a client can be
	 * ahead of the log: `minLines` waits (up to 5 s) until there are at least that many.
	 */
	accessLog(minLines?: number): Promise<string[]>;
	/** Stops nginx and waits for it to exit; the teardown does it too. */
	stop(): Promise<void>;
};

/** The configuration: every path nginx would otherwise take from its build is inside `dir`. */
function configuration(dir: string, root: string, port: number): string {
	const inside = (name: string) => JSON.stringify(path.join(dir, name));
	return `
# One process, no master: it never switches to the build's user (\`nobody\`, who could not read a
# test's 0700 temporary folders when started as root), and a SIGKILL leaves no worker behind.
master_process off;
pid ${inside('nginx.pid')};
error_log ${inside('error.log')} warn;
events {
	worker_connections 64;
}
http {
	# Every file is bytes to a web seed: no types, one default.
	types {}
	default_type application/octet-stream;
	sendfile on;
	keepalive_timeout 60s;
	keepalive_requests 10000;
	log_format webseed '$connection $connection_requests "$request" range="$http_range" $status $body_bytes_sent';
	access_log ${inside('access.log')} webseed;
	# Created at start whether used or not: the build's defaults are under /var/lib/nginx.
	client_body_temp_path ${inside('client-body')};
	proxy_temp_path ${inside('proxy')};
	fastcgi_temp_path ${inside('fastcgi')};
	uwsgi_temp_path ${inside('uwsgi')};
	scgi_temp_path ${inside('scgi')};
	server {
		listen 127.0.0.1:${port};
		server_name localhost;
		root ${JSON.stringify(root)};
	}
}
`;
}

/**
 * Starts nginx serving the folder `root` on 127.0.0.1 (on `port`, or a free one), resolving once
 * it accepts connections; it is stopped, and waited for, when the test ends.
 */
export async function startNginx(
	t: Teardown,
	{root, port, startTimeoutMs = 10_000}: {root: string; port?: number; startTimeoutMs?: number},
): Promise<Nginx> {
	const dir = await tempDir(t, 'torrent-rx-nginx-');
	const listenPort = port ?? (await freePort());
	const conf = path.join(dir, 'nginx.conf');
	await writeFile(conf, configuration(dir, path.resolve(root), listenPort));
	const child = track(
		spawn(
			nginxBinary,
			['-p', `${dir}/`, '-c', conf, '-e', path.join(dir, 'error.log'), '-g', 'daemon off;'],
			{
				stdio: ['ignore', 'pipe', 'pipe'],
			},
		),
	);
	const stop = () => killProcess(child, 'SIGTERM');
	t.teardown(stop);
	await daemonListening(child, {name: nginxBinary, port: listenPort, timeoutMs: startTimeoutMs, stop});

	const logFile = path.join(dir, 'access.log');
	const readLog = async () => {
		const text = await readFile(logFile, 'utf8').catch(() => '');
		return text.split('\n').filter(Boolean);
	};

	return {
		url: `http://127.0.0.1:${listenPort}/`,
		port: listenPort,
		async accessLog(minLines = 0) {
			const deadline = Date.now() + 5000;
			let lines = await readLog();
			while (lines.length < minLines && Date.now() < deadline) {
				await new Promise((resolve) => setTimeout(resolve, 20));
				lines = await readLog();
			}

			return lines;
		},
		stop,
	};
}
