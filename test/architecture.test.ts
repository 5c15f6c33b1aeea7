/**
 * The architecture STYLE.md describes, checked over every file of source/ with the small
 * scanner in test/helpers/source-scanner.ts (its own tests are beside it):
 * - no import circle between the modules of source/ (type-only imports count: a circle of types
 *   still ties the modules together);
 * - codec/ is pure and synchronous: neither it nor anything it imports brings in rxjs, node:net
 *   or node:fs;
 * - no function over 80 lines, unless the comment directly above it says why, with the marker
 *   `long-function:` followed by the reason, e.g.
 *   `// long-function: one switch over the eleven BEP 3 messages; split, each case needs all the state`.
 * Each check also fails when its allow-list names something that is no longer true, so a list
 * cannot outlive what it excuses.
 */
import {readdir, readFile} from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import {type FunctionSpan, functionSpans, importSpecifiers, maskNonCode} from './helpers/source-scanner.js';

const root = path.join(import.meta.dirname, '..', 'source');

const maxLines = 80;
const marker = /long-function:\s*\S.{10,}/;

/**
 * Functions over 80 lines tolerated without a `long-function:` reason: none since issue 15. The
 * test fails if a listed one is short (delete it) or if an unlisted one grows past 80 lines.
 */
const knownLongFunctions: Array<{file: string; name: string}> = [];

/** Import circles tolerated, each as the files it ties together: none, and none may come back. */
const knownImportCircles: string[][] = [];

/** Imports of codec/ tolerated that break its purity: none since issue 15. */
const knownCodecImports: Array<{file: string; specifier: string}> = [];

/** What codec/ must not reach: the stream library and node's network and file system. */
const impure = /^(?:rxjs(?:\/.*)?|(?:node:)?net|(?:node:)?fs(?:\/.*)?)$/;

type SourceFile = {file: string; text: string};

async function sourceFiles(): Promise<SourceFile[]> {
	const names = (await readdir(root, {recursive: true})).filter((name) => /\.tsx?$/.test(name)).sort();
	return Promise.all(
		names.map(async (name) => ({
			file: name.split(path.sep).join('/'),
			text: await readFile(path.join(root, name), 'utf8'),
		})),
	);
}

/** The source file a relative specifier names (`./a.js` is `a.ts` or `a.tsx`), if it is one. */
function resolve(from: string, specifier: string, files: Set<string>): string | undefined {
	const target = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
	const stem = target.replace(/\.(?:js|jsx|ts|tsx)$/, '');
	return [`${stem}.ts`, `${stem}.tsx`, `${stem}/index.ts`].find((candidate) => files.has(candidate));
}

type Graph = Map<string, {relative: string[]; bare: string[]; unresolved: string[]}>;

function importGraph(sources: SourceFile[]): Graph {
	const files = new Set(sources.map(({file}) => file));
	const graph: Graph = new Map();
	for (const {file, text} of sources) {
		const node = {relative: [] as string[], bare: [] as string[], unresolved: [] as string[]};
		for (const specifier of importSpecifiers(text)) {
			if (!specifier.startsWith('.')) {
				node.bare.push(specifier);
				continue;
			}

			const target = resolve(file, specifier, files);
			if (target) {
				node.relative.push(target);
			} else {
				node.unresolved.push(specifier);
			}
		}

		graph.set(file, node);
	}

	return graph;
}

/** The strongly connected components of the graph (Tarjan): each of more than one file is a circle. */
function components(graph: Graph): string[][] {
	const index = new Map<string, number>();
	const low = new Map<string, number>();
	const stack: string[] = [];
	const onStack = new Set<string>();
	const found: string[][] = [];
	const visit = (file: string) => {
		index.set(file, index.size);
		low.set(file, index.get(file) ?? 0);
		stack.push(file);
		onStack.add(file);
		for (const next of graph.get(file)?.relative ?? []) {
			if (!index.has(next)) {
				visit(next);
				low.set(file, Math.min(low.get(file) ?? 0, low.get(next) ?? 0));
			} else if (onStack.has(next)) {
				low.set(file, Math.min(low.get(file) ?? 0, index.get(next) ?? 0));
			}
		}

		if (low.get(file) === index.get(file)) {
			const component: string[] = [];
			let member: string | undefined;
			do {
				member = stack.pop();
				if (member !== undefined) {
					onStack.delete(member);
					component.push(member);
				}
			} while (member !== undefined && member !== file);
			found.push(component.sort());
		}
	};

	for (const file of graph.keys()) {
		if (!index.has(file)) {
			visit(file);
		}
	}

	return found;
}

/** The shortest circle from `start` back to it inside `members`, as `a → b → a`. */
function circleThrough(graph: Graph, start: string, members: Set<string>): string {
	const cameFrom = new Map<string, string>();
	const queue = [start];
	while (queue.length > 0) {
		const file = queue.shift() ?? start;
		for (const next of graph.get(file)?.relative ?? []) {
			if (next === start) {
				const path = [start];
				for (let at: string | undefined = file; at !== undefined && at !== start; at = cameFrom.get(at)) {
					path.splice(1, 0, at);
				}

				return [...path, start].join(' → ');
			}

			if (members.has(next) && !cameFrom.has(next)) {
				cameFrom.set(next, file);
				queue.push(next);
			}
		}
	}

	return start;
}

/** Each import circle of the graph, one line each; a component of more files lists them too. */
function importCircles(graph: Graph, known: string[][] = []): string[] {
	const isKnown = (component: string[]) => known.some((files) => files.join() === component.join());
	return components(graph)
		.filter(
			(component) =>
				component.length > 1 || graph.get(component[0] ?? '')?.relative.includes(component[0] ?? ''),
		)
		.filter((component) => !isKnown(component))
		.map((component) => {
			const circle = circleThrough(graph, component[0] ?? '', new Set(component));
			return component.length > circle.split(' → ').length - 1
				? `${circle} (one circle among ${component.join(', ')})`
				: circle;
		});
}

type Impurity = {
	/** The file of codec/ that reaches the import. */
	codecFile: string;
	/** The file that makes it: `codecFile` itself or one it imports, directly or not. */
	file: string;
	specifier: string;
	via: string;
};

/** What codec/ reaches that it must not: each forbidden import with the chain of files leading to it. */
function codecImpurities(graph: Graph): Impurity[] {
	const problems: Impurity[] = [];
	for (const codecFile of [...graph.keys()].filter((file) => file.startsWith('codec/'))) {
		const seen = new Map<string, string[]>([[codecFile, [codecFile]]]);
		const queue = [codecFile];
		while (queue.length > 0) {
			const file = queue.shift() ?? codecFile;
			const node = graph.get(file);
			for (const specifier of node?.bare.filter((bare) => impure.test(bare)) ?? []) {
				problems.push({codecFile, file, specifier, via: [...(seen.get(file) ?? []), specifier].join(' → ')});
			}

			for (const next of node?.relative ?? []) {
				if (!seen.has(next)) {
					seen.set(next, [...(seen.get(file) ?? []), next]);
					queue.push(next);
				}
			}
		}
	}

	return problems;
}

test('every relative import names a file of source/, so the import graph is whole', async (t) => {
	const graph = importGraph(await sourceFiles());
	const unresolved = [...graph].flatMap(([file, node]) =>
		node.unresolved.map((specifier) => `${file}: ${specifier}`),
	);
	t.deepEqual(unresolved, []);
	t.true(graph.size > 50);
});

test('no import circle in source/, but for the known ones listed', async (t) => {
	const graph = importGraph(await sourceFiles());
	t.deepEqual(importCircles(graph, knownImportCircles), []);
	const circles = components(graph).map((component) => component.join());
	t.deepEqual(
		knownImportCircles.filter((files) => !circles.includes([...files].sort().join())),
		[],
		'no longer a circle (or not exactly these files): delete it from knownImportCircles',
	);
});

test('the circle finder finds a circle, and names the files on it', (t) => {
	const node = (...relative: string[]) => ({relative, bare: [], unresolved: []});
	const graph: Graph = new Map([
		['a.ts', node('b.ts')],
		['b.ts', node('c.ts', 'd.ts')],
		['c.ts', node('a.ts')],
		['d.ts', node()],
		['e.ts', node('e.ts')],
	]);
	t.deepEqual(importCircles(graph), ['a.ts → b.ts → c.ts → a.ts', 'e.ts → e.ts']);
	t.deepEqual(importCircles(graph, [['a.ts', 'b.ts', 'c.ts']]), ['e.ts → e.ts']);
	graph.set('d.ts', node('b.ts'));
	t.deepEqual(importCircles(graph), [
		'a.ts → b.ts → c.ts → a.ts (one circle among a.ts, b.ts, c.ts, d.ts)',
		'e.ts → e.ts',
	]);
});

test('codec/ reaches no rxjs, node:net or node:fs, but for the known imports listed', async (t) => {
	const found = codecImpurities(importGraph(await sourceFiles()));
	// A file reaching a listed import through another codec file is excused with it.
	const known = (problem: Impurity) =>
		knownCodecImports.some((entry) => entry.file === problem.file && entry.specifier === problem.specifier);
	t.deepEqual(
		found.filter((problem) => !known(problem)).map((problem) => problem.via),
		[],
		'codec/ must stay pure and synchronous (STYLE.md)',
	);
	t.deepEqual(
		knownCodecImports.filter(
			(entry) => !found.some((problem) => known(problem) && problem.file === entry.file),
		),
		[],
		'no longer imported: delete it from knownCodecImports',
	);
});

test(`no function in source/ is over ${maxLines} lines unless its comment says why`, async (t) => {
	const sources = await sourceFiles();
	t.deepEqual(
		sources.filter(({text}) => !maskNonCode(text).balanced).map(({file}) => file),
		[],
		'the scanner cannot read these files, so their functions are not measured',
	);
	const long: Array<FunctionSpan & {file: string}> = sources.flatMap(({file, text}) =>
		functionSpans(text)
			.filter((fn) => fn.lines > maxLines)
			.map((fn) => ({...fn, file})),
	);
	const listed = (fn: {file: string; name: string}) =>
		knownLongFunctions.some((entry) => entry.file === fn.file && entry.name === fn.name);
	t.deepEqual(
		long
			.filter((fn) => !marker.test(fn.commentAbove) && !listed(fn))
			.map((fn) => `${fn.file}:${fn.line} ${fn.name} is ${fn.lines} lines`),
		[],
		`split it, or say why it is long in its comment with "long-function: <reason>"`,
	);
	t.deepEqual(
		knownLongFunctions.filter(
			(entry) => !long.some((fn) => fn.file === entry.file && fn.name === entry.name),
		),
		[],
		`no longer over ${maxLines} lines (or gone): delete it from knownLongFunctions`,
	);
});
