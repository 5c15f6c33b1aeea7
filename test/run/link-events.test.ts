import test from 'ava';
import type {FileEntry} from '../../source/codec/metainfo.js';
import type {RunEvent} from '../../source/events/events.js';
import {linkSkippedEvents, makeTorrentLinks, maxLinkEvents} from '../../source/run/link-events.js';
import type {SkippedLink} from '../../source/storage/symlinks.js';
import {testScheduler} from '../helpers/marbles.js';

const files: FileEntry[] = [
	{path: ['album', 'a'], length: 5, offset: 0},
	{path: ['album', 'in'], length: 0, offset: 5, attributes: 'l', symlinkTarget: ['a']},
	{path: ['album', 'out'], length: 0, offset: 5, attributes: 'l', symlinkTarget: ['..', 'x']},
	{path: ['album', 'pad'], length: 3, offset: 5, attributes: 'lp', pad: true, symlinkTarget: ['a']},
];

const out: SkippedLink = {
	path: 'album/out',
	target: 'album/../x',
	reason: "its target is outside the torrent's folder",
};

const skips = (count: number): SkippedLink[] =>
	Array.from({length: count}, (_, index) => ({
		path: `album/${index}`,
		target: 'album/../x',
		reason: 'outside',
	}));

test('one `link-skipped` a skipped link, once the port has made the links; the port is given every file', (t) => {
	let given: readonly FileEntry[] = [];
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const made$ = cold<SkippedLink[]>('--(a|)', {a: [out]});
		const events$ = makeTorrentLinks((torrentFiles) => {
			given = torrentFiles;
			return made$;
		}, files);
		expectObservable(events$).toBe('--(a|)', {a: {type: 'link-skipped', ...out}});
		expectSubscriptions(made$.subscriptions).toBe('^-!');
	});
	t.is(given, files);
});

test('no link made, and no port asked, for a torrent without links or a run without the port', (t) => {
	testScheduler(t).run(({cold, expectObservable, expectSubscriptions}) => {
		const made$ = cold<SkippedLink[]>('(a|)', {a: [out]});
		const regular = files.filter((file) => !file.symlinkTarget);
		expectObservable(makeTorrentLinks(() => made$, regular)).toBe('|');
		expectObservable(makeTorrentLinks(undefined, files)).toBe('|');
		expectSubscriptions(made$.subscriptions).toBe([]);
	});
});

test('a port that fails reports every link skipped, with why, and the run goes on', (t) => {
	testScheduler(t).run(({cold, expectObservable}) => {
		const failed$ = cold<SkippedLink[]>('-#', {}, new Error('disk on fire'));
		const reason = 'the links could not be made: disk on fire';
		expectObservable(makeTorrentLinks(() => failed$, files)).toBe('-(ab|)', {
			a: {type: 'link-skipped', path: 'album/in', target: 'album/a', reason},
			b: {type: 'link-skipped', path: 'album/out', target: 'album/../x', reason},
		});
	});
});

test(`at most ${maxLinkEvents} events, the last counting the links skipped after it`, (t) => {
	const many = linkSkippedEvents(skips(1000));
	t.is(many.length, maxLinkEvents);
	t.deepEqual(many.at(-1), {type: 'link-skipped', ...skips(20)[19], omitted: 980} as RunEvent);
	t.false(many.slice(0, -1).some((event) => 'omitted' in event));
	t.deepEqual(linkSkippedEvents(skips(maxLinkEvents)).at(-1), {
		type: 'link-skipped',
		...skips(20)[19],
	} as RunEvent);
	t.deepEqual(linkSkippedEvents([]), []);
});
