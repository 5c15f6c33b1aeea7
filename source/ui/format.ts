import type {SelectionSummary} from '../events/file-progress.js';

const units = ['B', 'kB', 'MB', 'GB', 'TB'];

/** Torrent names longer than a file name can be are cut: the views are for reading, not for the whole name. */
export const maxNameLength = 255;

/** Decimal units, as download rates are usually quoted (41.2 MB/s). */
export function formatBytes(bytes: number): string {
	let value = bytes;
	let unit = 0;
	while (value >= 1000 && unit < units.length - 1) {
		value /= 1000;
		unit++;
	}

	return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function formatRate(bytesPerSecond: number): string {
	return `${formatBytes(bytesPerSecond)}/s`;
}

/** `0:42`, `12:05`, `3:02:09`: how long until the download is done. */
export function formatDuration(seconds: number): string {
	const whole = Math.max(0, Math.round(seconds));
	const hours = Math.floor(whole / 3600);
	const minutes = Math.floor((whole % 3600) / 60);
	const secs = String(whole % 60).padStart(2, '0');
	return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${secs}` : `${minutes}:${secs}`;
}

/** `1 peer`, `3 peers`. */
export function countOf(count: number, noun: string): string {
	return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** `42.1%`, never `100.0%` before the last piece is in. */
export function formatProgress(progress: number): string {
	const percent = Math.floor(progress * 1000) / 10;
	return `${percent.toFixed(1)}%`;
}

/** `3 of 12 files, 1.4 GB of 9.8 GB`: what the run downloads, when not every file is selected; else empty. */
export function formatSelection(selection: SelectionSummary | undefined): string {
	return selection
		? `${selection.files} of ${countOf(selection.ofFiles, 'file')}, ${formatBytes(selection.bytes)} of ${formatBytes(selection.ofBytes)}`
		: '';
}
