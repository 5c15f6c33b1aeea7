/**
 * RC4's word loop in WebAssembly: 850–900 MB/s here, where the same loop in JavaScript (over an
 * Int32Array state, unrolled by hand) runs at 620–650 MB/s and OpenSSL's legacy RC4 at 370–470.
 * The module is rc4.wat, assembled by Debian's wabt (`wat2wasm rc4.wat`); its bytes are below,
 * and test/codec/rc4-wasm.test.ts checks that they are rc4.wat's.
 */
export const rc4WasmBase64 =
	'AGFzbQEAAAABBgFgAn9/AAMCAQAFAwEABQcSAgZtZW1vcnkCAAV3b3JkcwAACpQDAZEDAQZ/QYAIKAIAQQJ0IQJBhAgoAgBBAnQhAyAAIAFBAnRqIQYCQANAIAAgBk8NAUEAIQcgAkEEakH8B3EhAiACKAIAIQQgAyAEQQJ0akH8B3EhAyADKAIAIQUgAiAFNgIAIAMgBDYCACAHIAQgBWpBAnRB/AdxKAIAQQB0ciEHIAJBBGpB/AdxIQIgAigCACEEIAMgBEECdGpB/AdxIQMgAygCACEFIAIgBTYCACADIAQ2AgAgByAEIAVqQQJ0QfwHcSgCAEEIdHIhByACQQRqQfwHcSECIAIoAgAhBCADIARBAnRqQfwHcSEDIAMoAgAhBSACIAU2AgAgAyAENgIAIAcgBCAFakECdEH8B3EoAgBBEHRyIQcgAkEEakH8B3EhAiACKAIAIQQgAyAEQQJ0akH8B3EhAyADKAIAIQUgAiAFNgIAIAMgBDYCACAHIAQgBWpBAnRB/AdxKAIAQRh0ciEHIAAgACgCACAHczYCACAAQQRqIQAMAAsLQYAIIAJBAnY2AgBBhAggA0ECdjYCAAs=';

/** Where the permutation, i and j sit in the module's memory, and the words to XOR. */
const stateOffset = 0;
const indexesOffset = 1024;
const scratchOffset = 65_536;
const scratchWords = (4 * 65_536) / 4;

const instance = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(rc4WasmBase64, 'base64')));
const exported = instance.exports as {memory: WebAssembly.Memory; words: (at: number, count: number) => void};
// The memory never grows, so these views stay valid.
const memory = exported.memory.buffer;
const state = new Int32Array(memory, stateOffset, 256);
const indexes = new Int32Array(memory, indexesOffset, 2);
const scratch = new Uint32Array(memory, scratchOffset, scratchWords);

/** Where a cipher's i and j are kept between calls. */
export type Rc4Indexes = {i: number; j: number};

/**
 * `words` XOR the keystream of `permutation` and `at` (which it moves on), four bytes a word,
 * little end first: through the module's scratch memory, a quarter of a MiB at a time.
 */
export function wasmWords(permutation: Int32Array, at: Rc4Indexes, words: Uint32Array): void {
	state.set(permutation);
	indexes[0] = at.i;
	indexes[1] = at.j;
	for (let start = 0; start < words.length; start += scratchWords) {
		const part = words.subarray(start, start + scratchWords);
		scratch.set(part);
		exported.words(scratchOffset, part.length);
		part.set(scratch.subarray(0, part.length));
	}

	permutation.set(state);
	at.i = indexes[0] ?? 0;
	at.j = indexes[1] ?? 0;
}
