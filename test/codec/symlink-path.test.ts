import test from 'ava';
import {
	linkTargets,
	linkTargetText,
	resolveTarget,
	symlinkComponents,
} from '../../source/codec/symlink-path.js';
import {MetainfoError} from '../../source/errors.js';

const bytes = (...components: string[]) => components.map((component) => Buffer.from(component));

test('symlinkComponents: each made safe, `.` and empty dropped, `..` kept for later', (t) => {
	t.deepEqual(symlinkComponents(bytes('a', '.', '', '..', 'b\\c', 'd\u0000e'), 'here'), [
		'a',
		'..',
		'bc',
		'de',
	]);
	t.is(symlinkComponents(bytes('.', ''), 'here'), undefined);
	t.is(symlinkComponents(Buffer.from('a'), 'here'), undefined);
	t.throws(() => symlinkComponents([Buffer.from('a'), 1], 'info.files[3]'), {
		instanceOf: MetainfoError,
		message: 'info.files[3]: symlink path component is not a string',
	});
});

const resolutions: Array<[folder: string[], components: string[], resolved: string[]]> = [
	[[], ['a', 'b'], ['a', 'b']],
	[['x'], ['a'], ['x', 'a']],
	[
		['x', 'y'],
		['..', 'a'],
		['x', 'a'],
	],
	[['x'], ['..', '..', 'a'], ['..', 'a']],
	[[], ['..', 'a', '..', '..', 'b'], ['..', '..', 'b']],
	[['x'], ['a', '..', '..'], []],
];

for (const [folder, components, resolved] of resolutions) {
	test(`resolveTarget: ${components.join('/')} from /${folder.join('/')} is /${resolved.join('/')}`, (t) => {
		t.deepEqual(resolveTarget(folder, components), resolved);
	});
}

test('linkTargets: from the top when that names something of the torrent, else from the link when that does', (t) => {
	const paths = [['a'], ['d', 'a'], ['d', 'l1'], ['d', 'l2'], ['d', 'l3'], ['d', 'l4'], ['l5']];
	const links = [undefined, undefined, ['a'], ['..', 'd'], ['x'], ['..', '..', 'a'], ['..', 'a']];
	t.deepEqual(linkTargets(paths, links), [
		undefined,
		undefined,
		// `a` names a file at the top and one beside the link: the top wins, as BEP 47 reads it.
		['a'],
		['d'],
		['x'],
		// From the link's folder it climbs out too: the top's reading stands.
		['..', '..', 'a'],
		['..', 'a'],
	]);
});

test('linkTargetText: the target from the torrent name down, as `path` is', (t) => {
	t.is(linkTargetText({path: ['album', 'sub', 'l'], symlinkTarget: ['sub', 'b.txt']}), 'album/sub/b.txt');
	t.is(linkTargetText({path: ['album', 'l'], symlinkTarget: ['..', 'x']}), 'album/../x');
});
