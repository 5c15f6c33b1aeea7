import test from 'ava';
import {missingPackages, notInstalled, packagesFor, planPackages} from './debian-packages.js';

test('the tests need the interop packages and a browser; the benchmark needs GNU time, not the browser', (t) => {
	t.deepEqual(packagesFor('tests'), [
		'python3-libtorrent',
		'aria2',
		'opentracker',
		'chromium',
		'util-linux',
		'mount',
		'wabt',
		'nginx',
	]);
	t.deepEqual(packagesFor('bench'), ['python3-libtorrent', 'aria2', 'opentracker', 'time']);
});

test('nothing missing: ready, as root or not, with no apt-get', (t) => {
	t.deepEqual(planPackages([], {root: true, purpose: 'tests'}), {kind: 'ready'});
	t.deepEqual(planPackages([], {root: false, purpose: 'bench'}), {kind: 'ready'});
});

test('as root, the missing packages are installed after one apt-get update, without questions', (t) => {
	t.deepEqual(planPackages(['aria2', 'chromium'], {root: true, purpose: 'tests'}), {
		kind: 'install',
		commands: [
			['apt-get', 'update'],
			['apt-get', 'install', '-y', '--no-install-recommends', 'aria2', 'chromium'],
		],
		env: {DEBIAN_FRONTEND: 'noninteractive'},
	});
});

test('not root: stop with one line naming the missing packages and the command that installs them', (t) => {
	const plan = planPackages(['opentracker', 'time'], {root: false, purpose: 'bench'});
	t.is(plan.kind, 'stop');
	const message = plan.kind === 'stop' ? plan.message : '';
	t.is(
		message,
		'npm run bench needs the Debian packages opentracker time: install them with ' +
			'`sudo apt-get update && sudo apt-get install -y --no-install-recommends opentracker time` ' +
			'(as root, npm run bench installs them itself)',
	);
	t.false(message.includes('\n'));
});

test('no dpkg-query at all: stop with one line naming every package needed', (t) => {
	const plan = planPackages(undefined, {root: true, purpose: 'tests'});
	t.deepEqual(plan, {
		kind: 'stop',
		message:
			'npm test needs the Debian packages python3-libtorrent aria2 opentracker chromium util-linux mount wabt nginx, ' +
			'and this machine has no dpkg-query to check for them: run it on Debian or Ubuntu',
	});
});

test("dpkg-query's lines: only `ii` counts as installed; removed (`rc`), half-installed and unknown packages are missing", (t) => {
	const output = ['aria2 ii ', 'chromium rc ', 'opentracker iF ', 'time ii', ''].join('\n');
	t.deepEqual(notInstalled(['python3-libtorrent', 'aria2', 'opentracker', 'chromium', 'time'], output), [
		'python3-libtorrent',
		'opentracker',
		'chromium',
	]);
	t.deepEqual(notInstalled(['aria2'], ''), ['aria2']);
});

test('dpkg-query itself: an installed package is found, a name Debian has never had is missing', async (t) => {
	t.deepEqual(await missingPackages(['dpkg', 'torrent-rx-no-such-package']), ['torrent-rx-no-such-package']);
});
