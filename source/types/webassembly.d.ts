/**
 * The little of WebAssembly's JavaScript API that torrent-rx uses (codec/rc4-wasm.ts, and the
 * page-aligned shared memory of storage/aligned-memory.ts): Node has it as a global, but its
 * types come with TypeScript's DOM library, which this project does not load.
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
		constructor(descriptor: {initial: number; maximum?: number; shared?: boolean});
		/** A SharedArrayBuffer for a memory made with `shared: true`. */
		readonly buffer: ArrayBuffer | SharedArrayBuffer;
	}
}
