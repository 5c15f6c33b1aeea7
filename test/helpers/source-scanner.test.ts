import test from 'ava';
import {functionSpans, importSpecifiers, maskNonCode} from './source-scanner.js';

/** Name and length of each function the scanner finds in `text`. */
const spans = (text: string) => functionSpans(text).map(({name, lines}) => `${name}:${lines}`);

test('braces in strings, template text, regular expressions and comments are not code', (t) => {
	const text = [
		'function tricky() {', //
		"\tconst a = '}' + \"{\" + '\\'}';",
		// biome-ignore lint/suspicious/noTemplateCurlyInString: the snippet is source text holding a template literal
		'\tconst b = `}${a.map((x) => `{${x}`)}}`;',
		'\tconst c = /[/}]\\}/g.test(a) ? 1 / 2 : 2 / 1;',
		'\t// }',
		'\t/* } */',
		'\treturn b;',
		'}',
		'function after() {}',
	].join('\n');
	const {code, balanced} = maskNonCode(text);
	t.true(balanced);
	t.is(code.length, text.length);
	t.is(code.split('\n').length, text.split('\n').length);
	t.false(code.includes('//'));
	t.deepEqual(spans(text), ['tricky:8', 'after:1']);
});

test('a division is not a regular expression, and a regular expression after return is', (t) => {
	const text = ['function f(a, b) {', '\tconst x = a / b / 2;', "\treturn /'/.test(x) ? '{' : x;", '}'].join(
		'\n',
	);
	t.true(maskNonCode(text).balanced);
	t.deepEqual(spans(text), ['f:4']);
});

test('methods with modifiers, generics and return types; signatures and calls are not functions', (t) => {
	const text = [
		'interface Port {',
		'\tread(index: number): {data: Buffer};',
		'}',
		'export function overload(a: string): void;',
		'export function overload(a: unknown): void {',
		'\tif (a) {',
		'\t\tcall(a);',
		'\t}',
		'}',
		'class Picker<T> {',
		'\tconstructor(private readonly size: number) {}',
		'\tasync #pick<U>(peer: U): Promise<{index: number} | undefined> {',
		'\t\treturn undefined;',
		'\t}',
		'\tstatic of(): () => void {',
		'\t\treturn () => {};',
		'\t}',
		'}',
	].join('\n');
	t.deepEqual(spans(text), ['overload:5', 'Picker.constructor:1', 'Picker.#pick:3', 'Picker.of:3']);
});

test('arrow functions assigned to a const: block and expression bodies, typed, async; nested names', (t) => {
	const text = [
		'export const block = async <T,>(value: T): Promise<T> => {',
		'\tconst inner = (x: number) =>',
		'\t\tx +',
		'\t\t1;',
		'\treturn value;',
		'};',
		'const typed: (a: number) => number = (a) => a;',
		'const bare = x => ({x});',
		'const notArrow = (1 + 2) * 3;',
		'const obj = {',
		'\tnext(value) {',
		'\t\treturn value;',
		'\t},',
		'};',
	].join('\n');
	t.deepEqual(spans(text), ['block:6', 'block.inner:3', 'typed:1', 'bare:1', 'obj.next:3']);
});

test('the comment above a function is its doc comment, not the code before it', (t) => {
	const [documented, bare] = functionSpans(
		[
			'const x = 1; // a trailing remark',
			'',
			'/**',
			' * Why.',
			' */',
			'export function a() {}',
			'function b() {}',
		].join('\n'),
	);
	t.is(documented?.commentAbove, '// a trailing remark\n\n/**\n * Why.\n */');
	t.is(bare?.commentAbove, '');
});

test('import specifiers: value, type-only, re-exports, side effects, dynamic; not in comments or strings', (t) => {
	const text = [
		"import {a} from './a.js';",
		"import type {B} from '../b.js';",
		"export {c} from './c.js';",
		"export * from './d.js';",
		"import './e.js';",
		"const f = await import('./f.js');",
		"// import {g} from './g.js';",
		'const h = "import {h} from \'./h.js\'";',
		'import {',
		'\ti,',
		"} from 'rxjs';",
	].join('\n');
	t.deepEqual(importSpecifiers(text), ['./a.js', '../b.js', './c.js', './d.js', './e.js', './f.js', 'rxjs']);
});

test('an unclosed string, comment or template makes the file unbalanced rather than mis-measured', (t) => {
	t.false(maskNonCode("const a = 'open\n").balanced);
	t.false(maskNonCode('/* open').balanced);
	t.false(maskNonCode('const a = `open ${b').balanced);
	t.false(maskNonCode('function f() {').balanced);
	t.true(maskNonCode('<Text>a</Text>{x}<Text>b</Text>').balanced);
});
