import test from 'ava';
import type {PeerMessage} from '../../source/codec/messages.js';
import {type PeerActivity, PeerDownloader} from '../../source/download/peer-downloader.js';
import {defaultWindowOptions} from '../../source/download/request-window.js';
import {checkedPicker} from '../helpers/checked-picker.js';

const kib16 = 16 * 1024;
const block = Buffer.alloc(kib16, 7);

type Request = Extract<PeerMessage, {type: 'request'}>;

/** A seed of 100 one-block pieces, unchoked, and what the downloader asked of it so far. */
function unchokedSeed(window: {initialWindow: number; maxWindow: number}) {
	const picker = checkedPicker(() => kib16, 100, {maxBytesInFlight: 1 << 30, random: () => 0});
	const downloader = new PeerDownloader(
		'peer',
		picker,
		{...defaultWindowOptions, minWindow: 2, ...window},
		0,
	);
	const asked: Request[] = [];
	const record = (activity: PeerActivity[]) => {
		for (const item of activity) {
			if (item.type === 'send') {
				asked.push(...item.messages.filter((message): message is Request => message.type === 'request'));
			}
		}
	};

	record(downloader.receive({type: 'have-all'}, 0));
	record(downloader.receive({type: 'unchoke'}, 0));
	/** The peer answers the oldest request. */
	const answer = (now: number) => {
		const request = asked.shift();
		if (!request) {
			throw new Error('nothing was asked');
		}

		record(downloader.receive({type: 'piece', index: request.index, begin: request.begin, block}, now));
	};

	return {downloader, asked, answer, record};
}

test('before the first rate measurement, each block received widens the window by one', (t) => {
	const {downloader, asked, answer} = unchokedSeed({initialWindow: 4, maxWindow: 500});
	t.is(asked.length, 4);
	for (let received = 1; received <= 8; received++) {
		answer(1);
		t.is(downloader.window, 4 + received);
	}

	t.is(downloader.outstanding, asked.length);
	t.true(asked.length >= 10, `twelve may be out, at least ten are (${asked.length})`);
});

test('slow start stops at the largest window', (t) => {
	const {downloader, answer} = unchokedSeed({initialWindow: 4, maxWindow: 6});
	for (let received = 0; received < 5; received++) {
		answer(1);
	}

	t.is(downloader.window, 6);
});

test('after the first rate measurement the window follows the rate, not the blocks', (t) => {
	const {downloader, answer, record} = unchokedSeed({initialWindow: 4, maxWindow: 500});
	answer(500);
	record(downloader.tick(1000, 1000));
	// 16 KiB in a second, two seconds of it queued: two blocks, less than the window already open.
	const measured = downloader.window;
	t.is(measured, 5);
	for (let received = 0; received < 4; received++) {
		answer(1500);
	}

	t.is(downloader.window, measured);
});
