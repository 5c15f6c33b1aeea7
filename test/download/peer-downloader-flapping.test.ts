import test from 'ava';
import type {PeerMessage} from '../../source/codec/messages.js';
import {PeerDownloader} from '../../source/download/peer-downloader.js';
import {defaultWindowOptions} from '../../source/download/request-window.js';
import {PeerProtocolError} from '../../source/errors.js';
import {checkedPicker} from '../helpers/checked-picker.js';

// Each change of choke is an event, and a line in the history log: a peer that flaps faster than
// a choker ever would is dropped. 20 changes a minute, with a burst of 20.

function setup() {
	const picker = checkedPicker(() => 16 * 1024, 4, {maxBytesInFlight: 1 << 20, random: () => 0});
	const downloader = new PeerDownloader('peer', picker, defaultWindowOptions, 0);
	downloader.receive({type: 'have-all'}, 0);
	return downloader;
}

/** Sends `first` and `second` alternately, `times` in all, `everyMs` apart; how many went in before the drop. */
function flap(
	downloader: PeerDownloader,
	first: PeerMessage,
	second: PeerMessage,
	times: number,
	everyMs: number,
) {
	for (let sent = 0; sent < times; sent++) {
		try {
			downloader.receive(sent % 2 === 0 ? first : second, sent * everyMs);
		} catch (error) {
			if (error instanceof PeerProtocolError && /more than 20 times a minute/.test(error.message)) {
				return sent;
			}

			throw error;
		}
	}

	return times;
}

const unchoke: PeerMessage = {type: 'unchoke'};
const choke: PeerMessage = {type: 'choke'};
const interested: PeerMessage = {type: 'interested'};
const notInterested: PeerMessage = {type: 'not-interested'};

test('a peer that chokes and unchokes us 21 times at once is dropped at the 21st change', (t) => {
	t.is(flap(setup(), unchoke, choke, 1000, 0), 20);
});

test('a choke and unchoke every 3 s, for ten minutes, is within the rate', (t) => {
	t.is(flap(setup(), unchoke, choke, 200, 3000), 200);
});

test('a change every second is dropped once the burst is spent', (t) => {
	const taken = flap(setup(), unchoke, choke, 1000, 1000);
	// 20 at once, then one more every 3 s: about 30 in the first 30 s.
	t.true(taken > 20 && taken < 40, `${taken} changes taken`);
});

test('choke after choke is no change, and costs nothing', (t) => {
	t.is(flap(setup(), choke, choke, 1000, 0), 1000);
});

test('interest is not counted: a leecher that keeps up with us turns interested with every piece', (t) => {
	t.is(flap(setup(), interested, notInterested, 1000, 0), 1000);
});
