import test from 'ava';
import {
	globPattern,
	numberedFiles,
	resolveSelection,
	selectsEverything,
} from '../../source/codec/file-selection.js';
import type {FileEntry} from '../../source/codec/metainfo.js';
import {UsageError} from '../../source/errors.js';

/** A torrent's files as the parser gives them: the name first, a pad file between the second and third. */
function filesOf(...paths: Array<string | 'pad'>): FileEntry[] {
	let offset = 0;
	return paths.map((path): FileEntry => {
		const length = 100;
		const file: FileEntry = {
			path: path === 'pad' ? ['movie', '.pad', '100'] : ['movie', ...path.split('/')],
			length,
			offset,
			...(path === 'pad' ? {pad: true as const, attributes: 'p'} : {}),
		};
		offset += length;
		return file;
	});
}

const torrent = filesOf('a.mkv', 'b.srt', 'pad', 'extras/c.mkv', 'extras/d.txt', 'e.nfo');

const selecting = (select: string[], exclude: string[] = []) => resolveSelection(torrent, {select, exclude});

test('files are numbered from 1 as info prints them, pad files left out', (t) => {
	t.deepEqual(
		numberedFiles(torrent).map(({number, fileIndex}) => [number, fileIndex]),
		[
			[1, 0],
			[2, 1],
			[3, 3],
			[4, 4],
			[5, 5],
		],
	);
});

test('numbers and ranges, in one list or repeated, select by the numbers info prints', (t) => {
	t.deepEqual(selecting(['1,3-4']), [true, false, false, true, true, false]);
	t.deepEqual(selecting(['1', '3-4']), [true, false, false, true, true, false]);
	t.deepEqual(selecting([' 5 , 2 ']), [false, true, false, false, false, true]);
});

test('--exclude leaves files out of --select, or out of every file when --select is not given', (t) => {
	t.deepEqual(selecting([], ['2']), [true, false, false, true, true, true]);
	t.deepEqual(selecting(['1-5'], ['*.txt', '5']), [true, true, false, true, false, false]);
});

test('a glob without a slash matches the name in any folder; one with a slash the path', (t) => {
	t.deepEqual(selecting(['*.mkv']), [true, false, false, true, false, false]);
	t.deepEqual(selecting(['extras/*']), [false, false, false, true, true, false]);
	t.deepEqual(selecting(['movie/extras/*']), [false, false, false, true, true, false]);
	t.deepEqual(selecting(['**/c.*']), [false, false, false, true, false, false]);
	t.deepEqual(selecting(['?.nfo', '[ab].srt']), [false, true, false, false, false, true]);
	t.deepEqual(selecting(['*.[!m]*']), [false, true, false, false, true, true]);
});

test('a pad file is never selected, whatever the glob', (t) => {
	t.false(selecting(['*'])[2]);
	t.false(selecting(['**'])[2]);
	t.true(selectsEverything(torrent, selecting(['*'])));
	t.false(selectsEverything(torrent, selecting(['1'])));
});

test('glob characters of regular expressions are taken literally', (t) => {
	const odd = filesOf('a+b (1).txt', 'ab1.txt');
	t.deepEqual(resolveSelection(odd, {select: ['a+b (1).txt'], exclude: []}), [true, false]);
	t.regex('a.b', globPattern('a.b'));
	t.notRegex('axb', globPattern('a.b'));
});

test('a number past the last file, a backwards range, a glob that matches nothing, or nothing left, is a usage error', (t) => {
	const problems: Array<[string[], string[], RegExp]> = [
		[['6'], [], /--select 6: the torrent has 5 files/],
		[['2-9'], [], /--select 2-9: the torrent has 5 files/],
		[[], ['7'], /--exclude 7: the torrent has 5 files/],
		[['4-2'], [], /a range goes upwards/],
		[['0'], [], /numbered from 1/],
		[['*.iso'], [], /--select \*\.iso matches none/],
		[['1'], ['*.mkv'], /leaves no file/],
	];
	for (const [select, exclude, message] of problems) {
		const error = t.throws(() => selecting(select, exclude), {instanceOf: UsageError});
		t.regex(error?.message ?? '', message);
	}
});

test('a pattern too long to be a file name is refused before it is compiled', (t) => {
	t.throws(() => selecting(['*'.repeat(2000)]), {instanceOf: UsageError, message: /too long/});
});
