import test from 'ava';
import type {PeerMessage} from '../../source/codec/messages.js';
import {PeerProtocolError} from '../../source/errors.js';
import {refuseFastMessagesUnlessAgreed} from '../../source/session/fast-messages.js';
import {testScheduler} from '../helpers/marbles.js';

const messages: Record<string, PeerMessage> = {
	h: {type: 'have', index: 1},
	u: {type: 'unchoke'},
	a: {type: 'have-all'},
	n: {type: 'have-none'},
	s: {type: 'suggest', index: 0},
	f: {type: 'allowed-fast', index: 0},
	r: {type: 'reject', index: 0, begin: 0, length: 16 * 1024},
};

test('with the fast bit on both sides, BEP 6 messages pass with the rest', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const messages$ = cold('-h-a-n-s-f-r-u|', messages);
		expectObservable(messages$.pipe(refuseFastMessagesUnlessAgreed(true))).toBe('-h-a-n-s-f-r-u|', messages);
		expectSubscriptions(messages$.subscriptions).toBe('^-------------!');
	});
});

for (const [key, message] of Object.entries(messages).filter(([key]) => 'ansfr'.includes(key))) {
	test(`without the fast bit, ${message.type} is a protocol error (BEP 6) and the messages are let go`, (t) => {
		testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
			const messages$ = cold(`-h-u-${key}-h|`, messages);
			expectObservable(messages$.pipe(refuseFastMessagesUnlessAgreed(false))).toBe(
				'-h-u-#',
				messages,
				new PeerProtocolError(`${message.type} without the fast extension (BEP 6)`),
			);
			expectSubscriptions(messages$.subscriptions).toBe('^----!');
		});
	});
}
