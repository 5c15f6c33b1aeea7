import test from 'ava';
import type {PeerAddress} from '../../source/codec/compact-peers.js';
import {CandidatePool} from '../../source/swarm/candidate-pool.js';

const publicPeer = (n: number): PeerAddress => ({
	host: `1.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`,
	port: 6881,
});

const drain = (pool: CandidatePool) => {
	const taken = [];
	for (let candidate = pool.take(); candidate; candidate = pool.take()) {
		taken.push(candidate);
		pool.checkInvariant();
	}

	return taken;
};

test('a tracker flooding fresh addresses fills its share of the pool and no more; other sources keep their places', (t) => {
	const pool = new CandidatePool(100, () => false);
	pool.add([publicPeer(1_000_001), publicPeer(1_000_002)], 'pex');
	pool.add([{host: '5.5.5.5', port: 1}], 'dht');
	for (let reply = 0; reply < 50; reply++) {
		pool.add(
			Array.from({length: 1000}, (_, index) => publicPeer(reply * 1000 + index)),
			'tracker',
		);
		pool.checkInvariant();
	}

	t.is(pool.waiting, 100);
	const taken = drain(pool);
	t.is(taken.length, 100);
	t.deepEqual(
		taken.filter((candidate) => candidate.source !== 'tracker').map((candidate) => candidate.key),
		['5.5.5.5:1', '1.15.66.65:6881', '1.15.66.66:6881'],
	);
});

test('duplicates merge, the better source wins; an active address is not waiting again', (t) => {
	const pool = new CandidatePool(10, () => false);
	t.is(pool.add([publicPeer(1), publicPeer(1), publicPeer(2)], 'pex').length, 2);
	t.is(pool.add([publicPeer(1)], 'tracker').length, 1);
	t.is(pool.add([publicPeer(1)], 'pex').length, 0);
	t.is(pool.waiting, 2);
	t.like(pool.take(), {key: '1.0.0.1:6881', source: 'tracker'});
	t.is(pool.add([publicPeer(1)], 'tracker').length, 0);
	t.false(pool.claim('1.0.0.1:6881'));
	t.true(pool.claim('1.0.0.2:6881'));
	t.is(pool.waiting, 0);
	pool.release('1.0.0.1:6881');
	t.is(pool.add([publicPeer(1)], 'tracker').length, 1);
	pool.checkInvariant();
});

test('port 0 is never a candidate; loopback, private and link-local ones only from a source allowed them', (t) => {
	const pool = new CandidatePool(10, () => false);
	const local = [
		{host: '127.0.0.1', port: 6881},
		{host: '192.168.1.1', port: 80},
		{host: '10.0.0.1', port: 22},
		{host: '169.254.1.1', port: 6881},
		{host: '::1', port: 6881},
		{host: 'fe80::1', port: 6881},
		{host: 'localhost', port: 6881},
	];
	t.deepEqual(pool.add([...local, {host: '1.2.3.4', port: 0}], 'tracker'), []);
	t.deepEqual(pool.add([{host: '1.2.3.4', port: 0}], 'lsd', {allowLocal: true}), []);
	t.is(pool.add(local, 'lsd', {allowLocal: true}).length, local.length);
});

test('an excluded address (banned, ourselves) never joins, and one excluded while waiting is skipped', (t) => {
	const excluded = new Set(['1.0.0.1:6881']);
	const pool = new CandidatePool(10, (key) => excluded.has(key));
	t.is(pool.add([publicPeer(1), publicPeer(2), publicPeer(3)], 'tracker').length, 2);
	excluded.add('1.0.0.2:6881');
	t.deepEqual(
		drain(pool).map((candidate) => candidate.key),
		['1.0.0.3:6881'],
	);
});

test('a returning peer comes first, and is kept over the rest when the pool is full', (t) => {
	const pool = new CandidatePool(3, () => false);
	pool.add([publicPeer(1), publicPeer(2), publicPeer(3)], 'tracker');
	t.is(pool.add([publicPeer(4)], 'tracker', {returning: true}).length, 1);
	t.deepEqual(
		drain(pool).map((candidate) => candidate.key),
		['1.0.0.4:6881', '1.0.0.2:6881', '1.0.0.3:6881'],
	);
});
