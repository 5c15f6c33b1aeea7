import test from 'ava';
import {PeerDownloader} from '../../source/download/peer-downloader.js';
import {defaultWindowOptions} from '../../source/download/request-window.js';
import {checkedPicker} from '../helpers/checked-picker.js';

function downloader() {
	const picker = checkedPicker(() => 16_384, 4, {maxBytesInFlight: 1 << 20});
	return new PeerDownloader('peer', picker, defaultWindowOptions, 0);
}

test('a verified piece is announced (have) to a peer that lacks it, and not to one that has it', (t) => {
	const lacking = downloader();
	lacking.receive({type: 'have', index: 1}, 0);
	t.deepEqual(lacking.pieceVerified(2), [{type: 'send', messages: [{type: 'have', index: 2}]}]);
	t.deepEqual(lacking.pieceVerified(1), [], 'it told us it has piece 1');

	const seed = downloader();
	seed.receive({type: 'have-all'}, 0);
	t.deepEqual(
		[0, 1, 2, 3].flatMap((index) => seed.pieceVerified(index)),
		[],
	);
});
