/**
 * Issue 14 (3): a doc comment had drifted above the wrong function in run-torrent.ts, leaving
 * two comments stacked on one function and none on the one it described. Every exported
 * function of these files carries its own `/** … *\/` directly above it, and no two are stacked.
 */
import {readdir, readFile} from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';

const root = path.join(import.meta.dirname, '..', '..', 'source');

async function checkedFiles(): Promise<string[]> {
	const inFolder = async (folder: string) =>
		(await readdir(path.join(root, folder))).map((name) => path.join(folder, name));
	return [
		...(await inFolder('storage')),
		// The run as one Observable (download.ts) and its parts.
		...(await inFolder('run')),
		'commands/run-torrent.ts',
		'commands/run-magnet.ts',
		'commands/create.ts',
	];
}

test('each exported function has its own doc comment, directly above it', async (t) => {
	const problems: string[] = [];
	for (const file of await checkedFiles()) {
		const lines = (await readFile(path.join(root, file), 'utf8')).split('\n');
		for (const [index, line] of lines.entries()) {
			const previous = lines[index - 1] ?? '';
			if (/^export (async )?function /.test(line) && !previous.endsWith('*/')) {
				problems.push(`${file}:${index + 1} has no doc comment`);
			}

			if (line.startsWith('/**') && previous.endsWith('*/')) {
				problems.push(`${file}:${index + 1} is a second doc comment on one declaration`);
			}
		}
	}

	t.deepEqual(problems, []);
});
