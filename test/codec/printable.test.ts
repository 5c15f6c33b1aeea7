import test from 'ava';
import fc from 'fast-check';
import {printable, printableJson} from '../../source/codec/printable.js';

/**
 * What must never reach a terminal from a stranger: C0 controls (ESC starts every escape
 * sequence), DEL, C1 controls (U+009B is CSI on its own), the bidirectional overrides and
 * isolates that reorder what is shown (CVE-2021-42574, "Trojan Source"), and the Unicode line
 * and paragraph separators.
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these are what the test looks for.
const unsafe = /[\u0000-\u001F\u007F-\u009F\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/u;

test('escape sequences, C1 controls and bidi overrides become spaces', (t) => {
	t.is(printable('a\u001B[2Jb'), 'a [2Jb');
	t.is(printable('evil\u001B]0;title\u0007name'), 'evil ]0;title name');
	t.is(printable('x\u009B2Jy'), 'x 2Jy');
	t.is(printable('txt.\u202Eexe.pdf'), 'txt. exe.pdf');
	t.is(printable('a\u2066b\u2069c\u200Fd\u2028e'), 'a b c d e');
	t.is(printable('  ubuntu-24.04.iso\n'), 'ubuntu-24.04.iso');
});

test('ordinary text of any script is kept as it is', (t) => {
	for (const text of ['debian-13.iso', 'Ünïcødé — naïve', '日本語のファイル', 'שלום עולם', '🎵 music 🎶']) {
		t.is(printable(text), text);
	}
});

test('the cut counts characters, never splitting an emoji into a lone surrogate', (t) => {
	t.is(printable('🎵🎵🎵', 2), '🎵🎵');
	t.is(printable('abcdef', 3), 'abc');
});

test('property: nothing unsafe survives, and the length stays within the cut', (t) => {
	// fc.assert throws with the smallest counterexample when the property fails.
	t.notThrows(() =>
		fc.assert(
			fc.property(
				fc.string({unit: 'binary', maxLength: 300}),
				fc.integer({min: 1, max: 250}),
				(text, max) => {
					const safe = printable(text, max);
					return !unsafe.test(safe) && [...safe].length <= max;
				},
			),
		),
	);
});

test('property: a JSON line keeps its value and carries nothing unsafe', (t) => {
	fc.assert(
		fc.property(fc.jsonValue(), fc.string({unit: 'binary'}), (value, text) => {
			const line = printableJson({value, text});
			t.deepEqual(JSON.parse(line), JSON.parse(JSON.stringify({value, text})));
			return !unsafe.test(line);
		}),
	);
});
