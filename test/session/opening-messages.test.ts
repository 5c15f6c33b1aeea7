import test from 'ava';
import {Bitfield} from '../../source/codec/bitfield.js';
import type {PeerMessage} from '../../source/codec/messages.js';
import {
	type OpeningSettings,
	openingMessages,
	type WhatWeHave,
} from '../../source/session/opening-messages.js';

const pieceCount = 10;

/** What we have: no piece, pieces 0 and 9, or all ten. */
function having(pieces: number[]): WhatWeHave {
	const have = new Bitfield(pieceCount);
	for (const index of pieces) {
		have.set(index);
	}

	return {complete: have.complete, have};
}

const haves = {
	nothing: having([]),
	some: having([0, 9]),
	everything: having([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
} as const;

const settings: OpeningSettings = {clientName: 'torrent-rx test', listenPort: 6881, maxQueuedRequests: 100};

/** Our extended handshake for `settings`, as bencoded text (keys sorted, BEP 3). */
const ourExtendedHandshake = 'd1:md11:ut_metadatai1ee1:pi6881e4:reqqi100e1:v15:torrent-rx teste';

/** A message's kind, and for a bitfield its bytes, for an extended message its payload, as text. */
function described(message: PeerMessage): string {
	switch (message.type) {
		case 'bitfield': {
			return `bitfield ${message.bitfield.toString('hex')}`;
		}

		case 'extended': {
			return `extended ${message.extension} ${message.payload.toString('latin1')}`;
		}

		default: {
			return message.type;
		}
	}
}

// Every combination of the peer's two bits and what we have, each with its answer written out.
const cases: Array<[fast: boolean, extended: boolean, have: keyof typeof haves, expected: string[]]> = [
	[false, false, 'nothing', []],
	[false, false, 'some', ['bitfield 8040']],
	[false, false, 'everything', ['bitfield ffc0']],
	[true, false, 'nothing', []],
	[true, false, 'some', ['bitfield 8040']],
	[true, false, 'everything', ['have-all']],
	[false, true, 'nothing', [`extended 0 ${ourExtendedHandshake}`]],
	[false, true, 'some', ['bitfield 8040', `extended 0 ${ourExtendedHandshake}`]],
	[false, true, 'everything', ['bitfield ffc0', `extended 0 ${ourExtendedHandshake}`]],
	[true, true, 'nothing', [`extended 0 ${ourExtendedHandshake}`]],
	[true, true, 'some', ['bitfield 8040', `extended 0 ${ourExtendedHandshake}`]],
	[true, true, 'everything', ['have-all', `extended 0 ${ourExtendedHandshake}`]],
];

for (const [fast, extended, have, expected] of cases) {
	test(`${fast ? 'fast' : 'no fast bit'}, ${extended ? 'extended' : 'no extension protocol'}, having ${have}: ${expected.map((message) => message.split(' ')[0]).join(', ') || 'nothing'}`, (t) => {
		t.deepEqual(openingMessages({fast, extended}, haves[have], settings).map(described), expected);
	});
}

test('never a have-none, whatever the peer and whatever we have (libtorrent 2.0.8 seeders hang up on it)', (t) => {
	for (const fast of [false, true]) {
		for (const extended of [false, true]) {
			for (const have of Object.values(haves)) {
				const types = openingMessages({fast, extended}, have, settings).map((message) => message.type);
				t.false(types.includes('have-none'));
			}
		}
	}
});

test('the bitfield message carries the bytes of our own bitfield, not a copy', (t) => {
	const ours = haves.some;
	const [message] = openingMessages({fast: false, extended: false}, ours, settings);
	t.is(message?.type === 'bitfield' ? message.bitfield : undefined, ours.have.bytes);
});

test('the extended handshake offers the metadata we have, and PEX only when the torrent allows it (BEP 9, 11, 27)', (t) => {
	const payload = (overrides: Partial<OpeningSettings>) => {
		const [message] = openingMessages({fast: false, extended: true}, haves.nothing, {
			...settings,
			...overrides,
		});
		return message?.type === 'extended' ? message.payload.toString('latin1') : undefined;
	};

	t.is(
		payload({infoBytes: Buffer.alloc(31_235)}),
		'd1:md11:ut_metadatai1ee13:metadata_sizei31235e1:pi6881e4:reqqi100e1:v15:torrent-rx teste',
	);
	t.is(
		payload({pex: {dialable: () => [], intervalMs: 60_000}}),
		'd1:md11:ut_metadatai1e6:ut_pexi2ee1:pi6881e4:reqqi100e1:v15:torrent-rx teste',
	);
	t.is(
		payload({listenPort: 0, maxQueuedRequests: 250, clientName: 'x'}),
		'd1:md11:ut_metadatai1ee4:reqqi250e1:v1:xe',
		'no port when we do not listen',
	);
});
