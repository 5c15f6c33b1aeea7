import net from 'node:net';

/**
 * Sends `head` (request line and headers, without the blank line) exactly as written on its own
 * connection and resolves with the status code of the reply: the way to forge a `Host` header,
 * or leave it out, that an HTTP client library would correct.
 */
export function rawStatus(port: number, head: string, timeoutMs = 5000): Promise<number> {
	return new Promise((resolve, reject) => {
		const socket = net.connect({host: '127.0.0.1', port});
		let reply = '';
		const timer = setTimeout(
			() => socket.destroy(new Error(`no reply to ${head.split('\r\n')[0]}`)),
			timeoutMs,
		);
		socket.setEncoding('utf8');
		socket.once('connect', () => socket.write(`${head}\r\nConnection: close\r\n\r\n`));
		socket.on('data', (chunk: string) => {
			reply += chunk;
			const status = /^HTTP\/1\.[01] (\d{3})/.exec(reply);
			if (status) {
				clearTimeout(timer);
				socket.destroy();
				resolve(Number(status[1]));
			}
		});
		socket.once('error', (error) => {
			clearTimeout(timer);
			reject(error);
		});
		socket.once('close', () => {
			clearTimeout(timer);
			reject(new Error(`closed without a status line: ${JSON.stringify(reply.slice(0, 80))}`));
		});
	});
}
