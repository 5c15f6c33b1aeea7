import test from 'ava';
import {noDhtWarning} from '../../source/commands/download.js';
import {TorrentRxError} from '../../source/errors.js';

test('the warning for a DHT that cannot start prints nothing a terminal would obey', (t) => {
	const error = new TorrentRxError('cannot join the DHT', {
		cause: new Error('bind failed at \u001B]0;owned\u0007 \u001B[2J\u202Ehere'),
	});
	// Escape, bell and the right-to-left override each become a space.
	t.is(noDhtWarning(error), 'torrent-rx: no DHT: cannot join the DHT: bind failed at  ]0;owned   [2J here\n');
});
