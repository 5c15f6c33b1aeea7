import test from 'ava';
import {BoundedMap, swarmMemory} from '../../source/swarm/bounded-map.js';

test('past its limit the map forgets the least recently set key', (t) => {
	const map = new BoundedMap<string, number>(3);
	for (const [index, key] of ['a', 'b', 'c'].entries()) {
		map.set(key, index);
	}

	map.set('a', 10);
	map.set('d', 3);
	t.deepEqual(
		[...map],
		[
			['c', 2],
			['a', 10],
			['d', 3],
		],
	);
	for (let index = 0; index < 10_000; index++) {
		map.set(`peer ${index}`, index);
	}

	t.is(map.size, 3);
});

test('a key the keep predicate names is never the one forgotten', (t) => {
	const banned = new Set(['a']);
	const map = new BoundedMap<string, number>(2, (key) => banned.has(key));
	map.set('a', 1);
	for (let index = 0; index < 100; index++) {
		map.set(`peer ${index}`, index);
	}

	t.is(map.get('a'), 1);
	t.is(map.size, 2);
});

test('the swarm memory stays bounded while strangers handshake from new addresses; a banned peer id stays', (t) => {
	const memory = swarmMemory(100);
	memory.peerIds.set('6.6.6.6:6881', 'liar');
	memory.strikes.set('6.6.6.6:6881', 3);
	memory.banned.add('6.6.6.6:6881');
	for (let index = 0; index < 10_000; index++) {
		memory.peerIds.set(`1.2.3.4:${index}`, `peer ${index}`);
		memory.strikes.set(`1.2.3.4:${index}`, 1);
		memory.ourAddresses.add(`1.2.3.4:${index}`);
	}

	t.is(memory.peerIds.size, 100);
	t.is(memory.strikes.size, 100);
	t.is(memory.ourAddresses.size, 100);
	t.is(memory.peerIds.get('6.6.6.6:6881'), 'liar');
	t.true(memory.ourAddresses.has('1.2.3.4:9999'));
});
