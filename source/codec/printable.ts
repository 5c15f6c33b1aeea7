/**
 * Text from a stranger (a tracker's message, a client name) made safe to print: control
 * characters, escape sequences' start included, become spaces, and it is cut to `maxLength`.
 */
export function printable(text: string, maxLength = 200): string {
	let safe = '';
	for (const char of text.slice(0, maxLength)) {
		const code = char.codePointAt(0) ?? 0;
		safe += code < 0x20 || (code >= 0x7f && code < 0xa0) ? ' ' : char;
	}

	return safe.trim();
}
