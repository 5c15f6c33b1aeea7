/**
 * The little of WebAssembly's JavaScript API that codec/rc4-wasm.ts uses: Node has it as a
 * global, but its types come with TypeScript's DOM library, which this project does not load.
 */
declare namespace WebAssembly {
	class Module {
		constructor(bytes: Uint8Array);
	}

	class Instance {
		constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
		readonly exports: Record<string, unknown>;
	}

	class Memory {
		readonly buffer: ArrayBuffer;
	}
}
