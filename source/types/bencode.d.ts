declare module 'bencode' {
	const bencode: {
		encode(value: unknown): Uint8Array;
		decode(data: Uint8Array, encoding?: string): unknown;
	};
	export default bencode;
}
