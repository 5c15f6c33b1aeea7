import type {RunEventType} from './events.js';

type Field = 'text' | 'count' | 'flag' | 'peers' | 'counts' | 'files';

/** The fields each event must carry, and what they hold; `?` marks the optional ones. */
const shapes: Record<RunEventType | 'log-dropped', Record<string, Field | `${Field}?`>> = {
	started: {
		name: 'text',
		infoHash: 'text',
		pieceCount: 'count',
		pieceLength: 'count',
		totalLength: 'count',
		files: 'files?',
	},
	checking: {checked: 'count', total: 'count'},
	checked: {pieces: 'count', total: 'count', bytes: 'count?', fromResumeFile: 'flag?', have: 'text?'},
	'announce-sent': {tracker: 'text', event: 'text'},
	'announce-answered': {
		tracker: 'text',
		event: 'text',
		peers: 'peers',
		interval: 'count',
		seeders: 'count?',
		leechers: 'count?',
		warning: 'text?',
		omitted: 'count?',
	},
	'announce-failed': {tracker: 'text', event: 'text', reason: 'text'},
	'no-peers': {},
	'peer-connecting': {peer: 'text', source: 'text?'},
	'peers-found': {source: 'text', from: 'text', peers: 'peers', count: 'count?'},
	'peer-connected': {peer: 'text', peerId: 'text', protection: 'text?'},
	'peer-identified': {peer: 'text', client: 'text'},
	'metadata-fetching': {infoHash: 'text', name: 'text?'},
	'metadata-fetched': {name: 'text', bytes: 'count', torrentFile: 'text'},
	'peer-choked': {peer: 'text'},
	'peer-unchoked': {peer: 'text'},
	'peer-disconnected': {peer: 'text', reason: 'text'},
	'piece-started': {peer: 'text', index: 'count'},
	'piece-verified': {peer: 'text', index: 'count', bytes: 'count', durationMs: 'count?'},
	'piece-failed': {peer: 'text', index: 'count', strikes: 'count'},
	uploaded: {peer: 'text', bytes: 'count'},
	'link-skipped': {path: 'text', target: 'text', reason: 'text', omitted: 'count?'},
	'web-seed-connected': {seed: 'text'},
	'web-seed-failed': {seed: 'text', reason: 'text', retryInMs: 'count?'},
	completed: {bytes: 'count'},
	seeding: {},
	error: {message: 'text'},
	/** The history log's summary of what it left out of a peer's events (history-log.ts). */
	'log-dropped': {peer: 'text', counts: 'counts'},
};

const isCount = (value: unknown) => typeof value === 'number' && Number.isFinite(value) && value >= 0;

/** A `started` event's file: its number, path, place and length, and whether it is selected. */
function isStartedFile(value: unknown): boolean {
	if (typeof value !== 'object' || value === null) {
		return false;
	}

	const file = value as Record<string, unknown>;
	return (
		isCount(file.number) &&
		typeof file.path === 'string' &&
		isCount(file.offset) &&
		isCount(file.length) &&
		typeof file.selected === 'boolean'
	);
}

const holds: Record<Field, (value: unknown) => boolean> = {
	files: (value) => Array.isArray(value) && value.every(isStartedFile),
	text: (value) => typeof value === 'string',
	count: isCount,
	flag: (value) => typeof value === 'boolean',
	counts: (value) => typeof value === 'object' && value !== null && Object.values(value).every(isCount),
	peers: (value) =>
		Array.isArray(value) &&
		value.every(
			(peer: unknown) =>
				typeof peer === 'object' &&
				peer !== null &&
				typeof (peer as {host?: unknown}).host === 'string' &&
				isCount((peer as {port?: unknown}).port),
		),
};

/**
 * Why a recorded event cannot be replayed (a field missing or of the wrong kind), or undefined
 * when it can. Types this version does not know are let through: the views ignore them.
 */
export function eventShapeProblem(event: {type: string; [field: string]: unknown}): string | undefined {
	if (!(typeof event.at === 'number' && Number.isFinite(event.at))) {
		return 'its time is not a number';
	}

	const shape = shapes[event.type as RunEventType] as Record<string, string> | undefined;
	for (const [field, kind] of Object.entries(shape ?? {})) {
		const optional = kind.endsWith('?');
		const value = event[field];
		if (value === undefined ? !optional : !holds[kind.replace('?', '') as Field](value)) {
			return `${event.type} event with ${value === undefined ? 'no' : 'a malformed'} ${field}`;
		}
	}

	return undefined;
}
