import {access} from 'node:fs/promises';
import test from 'ava';
import {runTorrentRx} from '../helpers/swarm-fixture.js';

test('the demo downloads from its own swarm on 127.0.0.1, exits 0 and cleans up', async (t) => {
	t.timeout(90_000);
	const result = await runTorrentRx(t, ['demo', '--size', '6', '--seeders', '2'], {timeoutMs: 80_000});
	t.is(result.code, 0, result.stderr);
	t.regex(result.stdout, /Downloaded torrent-rx-demo\.bin: (\d+) pieces of \1 completed/);
	const folder = /writing 6 MB of random data to (\S+)/.exec(result.stderr)?.[1];
	t.truthy(folder, result.stderr);
	await t.throwsAsync(access(folder ?? ''), {code: 'ENOENT'}, 'the temporary folder is gone');
});
