/**
 * A small scanner for our own TypeScript, enough for the architecture test (test/architecture.test.ts)
 * without a parser dependency: it blanks what is not code (comments, the text of strings, template
 * literals and regular expressions), so that braces and keywords found afterwards are real ones,
 * then finds import specifiers and functions in the blanked text. Positions never move: index `i`
 * of the blanked text is index `i` of the source, and every newline is kept.
 *
 * Not handled, because this codebase does not need it: quotes or braces in JSX text (a lone `'` in
 * `<Text>don't</Text>` would open a string; `maskNonCode` then reports the file as unbalanced
 * rather than mis-measuring it), and a regular expression right after `)` or `}`, which is taken
 * for a division (`if (x) /a/.test(y)`).
 */

/** What `maskNonCode` found: the blanked text, and whether every literal and bracket closed. */
export type Masked = {code: string; balanced: boolean};

const identifierChar = /[\w$]/;

/** Words after which a `/` starts a regular expression rather than a division. */
const regexAfterWord = new Set([
	'return',
	'typeof',
	'instanceof',
	'in',
	'of',
	'new',
	'delete',
	'void',
	'throw',
	'case',
	'do',
	'else',
	'yield',
	'await',
]);

/**
 * Replaces comments and the contents of strings, template literals (not their `${…}` code) and
 * regular expressions by spaces, keeping newlines and the delimiters.
 */
export function maskNonCode(text: string): Masked {
	const out = text.split('');
	const blank = (from: number, to: number) => {
		for (let index = from; index < to; index++) {
			if (out[index] !== '\n') {
				out[index] = ' ';
			}
		}
	};

	// The brace depth at which each open `${` was entered: its `}` closes at that depth.
	const templates: number[] = [];
	let braces = 0;
	// The last code before the cursor: an identifier's word, or one punctuation character.
	let previous = '';
	let balanced = true;

	/** Scans template text from `start` up to a closing backtick or a `${`; returns where code resumes. */
	const templateText = (start: number): number => {
		let index = start;
		while (index < text.length) {
			const char = text[index];
			if (char === '\\') {
				index += 2;
			} else if (char === '`') {
				blank(start, index);
				previous = '`';
				return index + 1;
			} else if (char === '$' && text[index + 1] === '{') {
				blank(start, index);
				templates.push(braces);
				previous = '{';
				return index + 2;
			} else {
				index++;
			}
		}

		balanced = false;
		blank(start, text.length);
		return text.length;
	};

	let index = 0;
	while (index < text.length) {
		const char = text[index] ?? '';
		const next = text[index + 1];
		if (char === '/' && next === '/') {
			const end = text.indexOf('\n', index);
			const stop = end === -1 ? text.length : end;
			blank(index, stop);
			index = stop;
		} else if (char === '/' && next === '*') {
			const end = text.indexOf('*/', index + 2);
			if (end === -1) {
				balanced = false;
			}

			const stop = end === -1 ? text.length : end + 2;
			blank(index, stop);
			index = stop;
		} else if (char === "'" || char === '"') {
			let end = index + 1;
			while (end < text.length && text[end] !== char && text[end] !== '\n') {
				end += text[end] === '\\' ? 2 : 1;
			}

			if (text[end] !== char) {
				balanced = false;
			}

			blank(index + 1, end);
			previous = char;
			index = end + 1;
		} else if (char === '`') {
			index = templateText(index + 1);
		} else if (char === '/' && startsRegex(previous)) {
			const end = regexEnd(text, index);
			if (end === undefined) {
				previous = '/';
				index++;
			} else {
				blank(index + 1, end);
				previous = '/re/';
				index = end + 1;
			}
		} else if (char === '}' && templates.length > 0 && templates.at(-1) === braces) {
			templates.pop();
			index = templateText(index + 1);
		} else if (identifierChar.test(char)) {
			let end = index;
			while (end < text.length && identifierChar.test(text[end] ?? '')) {
				end++;
			}

			previous = text.slice(index, end);
			index = end;
		} else {
			if (char === '{') {
				braces++;
			} else if (char === '}') {
				braces--;
			}

			if (!/\s/.test(char)) {
				previous = char;
			}

			index++;
		}
	}

	return {code: out.join(''), balanced: balanced && braces === 0 && templates.length === 0};
}

/** Whether a `/` after `previous` (a word or one character of code) opens a regular expression. */
function startsRegex(previous: string): boolean {
	if (previous === '') {
		return true;
	}

	if (identifierChar.test(previous.at(-1) ?? '')) {
		return regexAfterWord.has(previous);
	}

	// After `<` a `/` is a JSX closing tag (`</Text>`), never a regular expression.
	return !/^[)\]}'"`<]$|^\/re\/$/.test(previous);
}

/** Where the regular expression opened at `start` closes (its last `/`), or undefined if it is none. */
function regexEnd(text: string, start: number): number | undefined {
	let inClass = false;
	for (let index = start + 1; index < text.length; index++) {
		const char = text[index];
		if (char === '\n') {
			return undefined;
		}

		if (char === '\\') {
			index++;
		} else if (char === '[') {
			inClass = true;
		} else if (char === ']') {
			inClass = false;
		} else if (char === '/' && !inClass) {
			return index;
		}
	}

	return undefined;
}

/**
 * Every module specifier the file imports or re-exports: `import … from`, `import type … from`,
 * `export … from`, `import '…'` and `import('…')`, in the order they appear.
 */
export function importSpecifiers(text: string): string[] {
	const {code} = maskNonCode(text);
	const specifiers: string[] = [];
	// In blanked code a quote after `from` or `import` can only be a module specifier.
	for (const match of code.matchAll(/\b(?:from|import)\s*\(?\s*(['"])/g)) {
		const open = (match.index ?? 0) + match[0].length;
		const close = text.indexOf(match[1] ?? "'", open);
		specifiers.push(text.slice(open, close));
	}

	return specifiers;
}

/** One function found in a file. */
export type FunctionSpan = {
	/** The name, prefixed by the names of the classes and functions it is in: `PeerDownloader.receive`. */
	name: string;
	kind: 'function' | 'method' | 'arrow';
	/** 1-based line of the declaration's first line. */
	line: number;
	/** Lines from the declaration's first line to the last line of its body, both counted. */
	lines: number;
	/** The comments between the previous code and the declaration: its doc comment, if any. */
	commentAbove: string;
};

type Found = {name: string; kind: FunctionSpan['kind']; start: number; open: number; close: number};

const notMethodNames = new Set([
	'if',
	'for',
	'while',
	'switch',
	'catch',
	'function',
	'return',
	'typeof',
	'with',
	'super',
	'import',
	'await',
	'yield',
	'void',
	'delete',
	'new',
	'throw',
	'else',
	'do',
	'try',
	'async',
	'case',
]);

/**
 * The functions of a file: `function` declarations and expressions, methods of classes and object
 * literals (`name(…) {`, with modifiers, generics and a return type), and arrow functions assigned
 * to a `const`, `let` or `var` (block or expression body). Declarations without a body (overloads,
 * interface members) are not functions.
 */
export function functionSpans(text: string): FunctionSpan[] {
	const {code} = maskNonCode(text);
	const found: Found[] = [];
	const classes: Found[] = [];

	for (const match of code.matchAll(/\bfunction\b\s*\*?\s*([A-Za-z_$][\w$]*)?/g)) {
		const at = match.index ?? 0;
		const body = bodyAfterName(code, at + match[0].length);
		if (body) {
			const assignedTo = /([A-Za-z_$][\w$]*)\s*[=:]\s*(?:async\s+)?$/.exec(
				code.slice(Math.max(0, at - 200), at),
			);
			const name = match[1] ?? assignedTo?.[1];
			found.push({name: name ?? '(anonymous)', kind: 'function', start: lineStart(code, at), ...body});
		}
	}

	for (const match of code.matchAll(/(^|[^\w$.#])(#?[A-Za-z_$][\w$]*)\s*(?=[<(])/g)) {
		const name = match[2] ?? '';
		const at = (match.index ?? 0) + (match[1] ?? '').length;
		const before = /([\w$]+)\s*$/.exec(code.slice(Math.max(0, at - 20), at))?.[1];
		if (notMethodNames.has(name) || before === 'new' || before === 'function' || before === 'case') {
			continue;
		}

		const body = bodyAfterName(code, at + name.length);
		if (body) {
			found.push({name, kind: 'method', start: lineStart(code, at), ...body});
		}
	}

	for (const match of code.matchAll(/\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*/g)) {
		const body = arrowAfterDeclaration(code, (match.index ?? 0) + match[0].length);
		if (body) {
			found.push({name: match[1] ?? '', kind: 'arrow', start: lineStart(code, match.index ?? 0), ...body});
		}
	}

	// A class's methods, and those of an object literal assigned to a name, have that name as a prefix.
	const containers = [
		/\bclass\s+([A-Za-z_$][\w$]*)[^{]*\{/g,
		/\b(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*=\s*\{/g,
	];
	for (const container of containers) {
		for (const match of code.matchAll(container)) {
			const open = (match.index ?? 0) + match[0].length - 1;
			classes.push({
				name: match[1] ?? '',
				kind: 'function',
				start: match.index ?? 0,
				open,
				close: matching(code, open),
			});
		}
	}

	const scopes = [...found, ...classes];
	return found
		.sort((a, b) => a.start - b.start)
		.map((fn) => {
			const outer = scopes
				.filter((scope) => scope !== fn && scope.open < fn.start && fn.close < scope.close)
				.sort((a, b) => a.open - b.open)
				.map((scope) => scope.name);
			const line = lineOf(code, fn.start);
			return {
				name: [...outer, fn.name].join('.'),
				kind: fn.kind,
				line,
				lines: lineOf(code, fn.close) - line + 1,
				commentAbove: commentBefore(text, code, fn.start),
			};
		});
}

/** The first non-blank character of the line holding `index`: where a declaration starts. */
function lineStart(code: string, index: number): number {
	let start = code.lastIndexOf('\n', index - 1) + 1;
	while (start < index && /\s/.test(code[start] ?? '')) {
		start++;
	}

	return start;
}

function lineOf(code: string, index: number): number {
	let line = 1;
	for (let at = code.indexOf('\n'); at !== -1 && at < index; at = code.indexOf('\n', at + 1)) {
		line++;
	}

	return line;
}

/** The original text between the previous code and `start`, where a doc comment sits. */
function commentBefore(text: string, code: string, start: number): string {
	let from = start;
	while (from > 0 && /\s/.test(code[from - 1] ?? '')) {
		from--;
	}

	return text.slice(from, start).trim();
}

const pairs: Record<string, string> = {'(': ')', '[': ']', '{': '}', '<': '>'};

/** The index of the bracket closing the one at `open` (in blanked code), or the end of the text. */
function matching(code: string, open: number): number {
	const opener = code[open] ?? '';
	const closer = pairs[opener];
	let depth = 0;
	for (let index = open; index < code.length; index++) {
		const char = code[index];
		if (opener === '<' && char === '>' && code[index - 1] === '=') {
			continue;
		}

		if (char === opener) {
			depth++;
		} else if (char === closer && --depth === 0) {
			return index;
		}
	}

	return code.length;
}

function skipSpace(code: string, index: number): number {
	let at = index;
	while (at < code.length && /\s/.test(code[at] ?? '')) {
		at++;
	}

	return at;
}

/**
 * After a function's name: optional generics, the parameter list, an optional return type, then
 * the body's `{`. Returns the body's braces, or undefined when what follows the name is not a
 * function with a body (a call, an overload, a signature).
 */
function bodyAfterName(code: string, index: number): {open: number; close: number} | undefined {
	let at = skipSpace(code, index);
	if (code[at] === '<') {
		at = skipSpace(code, matching(code, at) + 1);
	}

	if (code[at] !== '(') {
		return undefined;
	}

	const body = afterReturnType(code, skipSpace(code, matching(code, at) + 1), 'block');
	if (body === undefined || code[body] !== '{') {
		return undefined;
	}

	return {open: body, close: matching(code, body)};
}

/**
 * Skips a `: Type` return annotation if there is one and returns the index of what follows it,
 * or undefined if the annotation runs into something no type contains at its top level. A `{`
 * right after `:`, `|`, `&` or `=>` opens an object type; after a type, it is the body. For an
 * arrow function (`body: 'arrow'`) a `=>` after a type is the arrow; for a block it is part of a
 * function type (`(): () => void {`).
 */
function afterReturnType(code: string, index: number, body: 'block' | 'arrow'): number | undefined {
	if (code[index] !== ':') {
		return index;
	}

	let last = ':';
	let at = skipSpace(code, index + 1);
	while (at < code.length) {
		const char = code[at] ?? '';
		if (char === '=' && code[at + 1] === '>') {
			if (last !== 'type') {
				return undefined;
			}

			if (body === 'arrow') {
				return at;
			}

			last = '=>';
			at = skipSpace(code, at + 2);
			continue;
		}

		if (char === '{' && last === 'type') {
			return at;
		}

		if (char === '(' || char === '[' || char === '<' || char === '{') {
			at = skipSpace(code, matching(code, at) + 1);
			last = 'type';
		} else if (/[;,)\]}=]/.test(char)) {
			return undefined;
		} else if (char === '|' || char === '&') {
			last = char;
			at = skipSpace(code, at + 1);
		} else {
			// Identifiers, `.`, `?` and the blanked quotes of literal types all continue a type.
			last = 'type';
			at++;
			while (at < code.length && /\s/.test(code[at] ?? '')) {
				at++;
			}
		}
	}

	return undefined;
}

/**
 * After `const name`: an optional type annotation, `=`, optional `async`, then an arrow function
 * (`(…) =>`, `<T>(…) =>` or `x =>`). Returns from its `=>` to the end of its body: the closing `}`
 * of a block, or for an expression the last character before the `;` (or list end) that ends it.
 */
function arrowAfterDeclaration(code: string, index: number): {open: number; close: number} | undefined {
	let at = index;
	if (code[at] === ':') {
		// The annotation ends at the first `=` at depth 0 that is not part of `=>`.
		at++;
		while (at < code.length && !(code[at] === '=' && code[at + 1] !== '>')) {
			const char = code[at] ?? '';
			if (char === ';' || char === '\n') {
				return undefined;
			}

			at = '([{<'.includes(char) ? matching(code, at) + 1 : at + (char === '=' ? 2 : 1);
		}
	}

	if (code[at] !== '=' || code[at + 1] === '=') {
		return undefined;
	}

	at = skipSpace(code, at + 1);
	const async = /^async\b\s*/.exec(code.slice(at, at + 12));
	at += async?.[0].length ?? 0;
	let arrow: number | undefined;
	const bare = /^[A-Za-z_$][\w$]*\s*=>/.exec(code.slice(at, at + 100));
	if (bare) {
		arrow = at + bare[0].length - 2;
	} else {
		if (code[at] === '<') {
			at = skipSpace(code, matching(code, at) + 1);
		}

		if (code[at] !== '(') {
			return undefined;
		}

		arrow = afterReturnType(code, skipSpace(code, matching(code, at) + 1), 'arrow');
	}

	if (arrow === undefined || code[arrow] !== '=' || code[arrow + 1] !== '>') {
		return undefined;
	}

	const body = skipSpace(code, arrow + 2);
	if (code[body] === '{') {
		return {open: arrow, close: matching(code, body)};
	}

	for (let end = body; end < code.length; end++) {
		const char = code[end] ?? '';
		if ('([{'.includes(char)) {
			end = matching(code, end);
		} else if (';,)]}'.includes(char)) {
			return {open: arrow, close: end - 1};
		}
	}

	return {open: arrow, close: code.length - 1};
}
