import {execFileSync} from 'node:child_process';
import {readFile} from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import {rc4WasmBase64} from '../../source/codec/rc4-wasm.js';
import {tempDir} from '../helpers/swarm-fixture.js';

const source = path.join(import.meta.dirname, '..', '..', 'source', 'codec', 'rc4.wat');

test('the RC4 module’s bytes are what rc4.wat assembles to (Debian’s wat2wasm)', async (t) => {
	const output = path.join(await tempDir(t), 'rc4.wasm');
	execFileSync('wat2wasm', [source, '-o', output]);
	t.is((await readFile(output)).toString('base64'), rc4WasmBase64);
});
