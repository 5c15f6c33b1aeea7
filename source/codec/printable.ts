/**
 * Whether a code point must not reach a terminal as it is: C0 controls (ESC starts every escape
 * sequence), DEL, C1 controls (U+009B alone is CSI to many terminals), the bidirectional marks,
 * overrides and isolates that reorder what is shown (the "Trojan Source" characters, CVE-2021-42574),
 * and the Unicode line and paragraph separators.
 */
function isUnsafe(code: number): boolean {
	return (
		code < 0x20 ||
		(code >= 0x7f && code < 0xa0) ||
		(code >= 0x20_2a && code <= 0x20_2e) ||
		(code >= 0x20_66 && code <= 0x20_69) ||
		code === 0x06_1c ||
		code === 0x20_0e ||
		code === 0x20_0f ||
		code === 0x20_28 ||
		code === 0x20_29
	);
}

/**
 * Text from a stranger (a tracker's message, a client name, a torrent's name) made safe to
 * print: control characters, escape sequences' start included, and bidi overrides become
 * spaces, and it is cut to `maxLength` characters.
 */
export function printable(text: string, maxLength = 200): string {
	let safe = '';
	let length = 0;
	for (const char of text) {
		if (length++ === maxLength) {
			break;
		}

		safe += isUnsafe(char.codePointAt(0) ?? 0) ? ' ' : char;
	}

	return safe.trim();
}

const unsafeInJson = /[\u007F-\u009F\u061C\u200E\u200F\u2028\u2029\u202A-\u202E\u2066-\u2069]/g;

/**
 * `JSON.stringify(value)` for a line a terminal may show (`--debug` on stderr, `cat history.log`):
 * JSON escapes C0 controls itself; DEL, C1 controls and bidi overrides are escaped as `\uXXXX`
 * too, so the line parses to the same value and prints nothing but itself.
 */
export function printableJson(value: unknown): string {
	const json = JSON.stringify(value);
	unsafeInJson.lastIndex = 0;
	return unsafeInJson.test(json)
		? json.replace(unsafeInJson, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`)
		: json;
}
