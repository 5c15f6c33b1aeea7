import {Box, Text} from 'ink';
import {peerColumns, type RunSnapshot} from '../snapshot.js';
import {FileTable} from './file-table.js';

/**
 * Column widths, each with its padding: without the optional columns they fit 80 terminal
 * columns, and the Peer column takes whatever is wider.
 */
const columnWidths: Record<(typeof peerColumns)[number], number> = {
	Peer: 16,
	Client: 17,
	Enc: 4,
	From: 9,
	Status: 12,
	Piece: 6,
	Downloaded: 11,
	'Down rate': 10,
	'Up rate': 8,
};

/** The terminal widths from which the optional columns fit beside the others. */
const optionalColumnsFrom: Partial<Record<(typeof peerColumns)[number], number>> = {Piece: 84, From: 93};

/**
 * Lines the view uses besides the peer or file rows: header (3, and one for a selection), gap,
 * table head, "+N more", key help.
 */
const chromeLines = 7;

const phaseColors: Record<RunSnapshot['phase'], string> = {
	starting: 'gray',
	'fetching-metadata': 'yellow',
	checking: 'yellow',
	downloading: 'cyan',
	starving: 'yellow',
	completed: 'green',
	seeding: 'green',
};

function ProgressBar({progress, width}: {progress: number; width: number}) {
	const filled = Math.round(progress * width);
	return (
		<Text>
			<Text color="green">{'█'.repeat(filled)}</Text>
			<Text dimColor>{'░'.repeat(width - filled)}</Text>
		</Text>
	);
}

function Row({cells, bold, width}: {cells: readonly string[]; bold?: boolean; width: number}) {
	const shown = peerColumns
		.map((column, index) => ({column, text: cells[index] ?? ''}))
		.filter(({column}) => width >= (optionalColumnsFrom[column] ?? 0));
	return (
		<Box>
			{shown.map(({column, text}, index) => (
				<Box
					key={column}
					// The Peer column starts at its width and takes whatever room the terminal has beyond the rest.
					flexBasis={columnWidths[column]}
					flexGrow={column === 'Peer' ? 1 : 0}
					flexShrink={0}
					paddingRight={index < shown.length - 1 ? 1 : 0}
				>
					<Text bold={bold} wrap="truncate-end">
						{text}
					</Text>
				</Box>
			))}
		</Box>
	);
}

/** The peer table in `room` lines and one more: the fastest peers, then a line counting the rest. */
function PeerTable({rows, room, columns}: {rows: RunSnapshot['rows']; room: number; columns: number}) {
	// With one row too few, the "+N more" line would hide just one peer: show it instead.
	const shown = rows.length <= room + 1 ? rows : rows.slice(0, room);
	const hidden = rows.length - shown.length;
	return (
		<Box flexDirection="column">
			<Row cells={peerColumns} bold width={columns} />
			{shown.map((row) => (
				<Row key={row.address} cells={row.cells} width={columns} />
			))}
			{hidden > 0 ? <Text dimColor>+{hidden} more</Text> : null}
			{rows.length === 0 ? <Text dimColor>no peers yet</Text> : null}
		</Box>
	);
}

/** Which table the view shows below its header. */
export type RunViewList = 'peers' | 'files';

export type RunViewProps = {
	view: RunSnapshot;
	columns: number;
	rows: number;
	/** The peer table unless the file list was asked for (`f`). */
	list?: RunViewList;
};

/**
 * The terminal view of a run: a header with progress, rates and what is selected, then the peer
 * table or the file list cut to the terminal's height. Pure: it shows the snapshot it is given
 * and nothing else.
 */
export function RunView({view, columns, rows, list = 'peers'}: RunViewProps) {
	const room = Math.max(1, rows - chromeLines - (view.selection ? 1 : 0));
	const {percent} = view;
	const barWidth = Math.max(10, columns - percent.length - view.pieces.length - 4);
	return (
		<Box flexDirection="column" width={columns}>
			<Box>
				<Box flexGrow={1} flexShrink={1}>
					<Text bold wrap="truncate-end">
						{view.name || 'torrent-rx'}
					</Text>
				</Box>
				<Text color={phaseColors[view.phase]}> {view.activity}</Text>
			</Box>
			<Box>
				<ProgressBar progress={view.progress} width={barWidth} />
				<Text>
					{' '}
					{percent} {view.pieces}
				</Text>
			</Box>
			<Text wrap="truncate-end">
				↓ {view.downloadRate} ↑ {view.uploadRate} ETA {view.eta} {view.peers}
				{view.tracker ? <Text dimColor> {view.tracker}</Text> : null}
			</Text>
			{view.selection ? <Text wrap="truncate-end">Selected {view.selection}</Text> : null}
			<Text> </Text>
			{list === 'files' ? (
				<FileTable files={view.files} room={room} />
			) : (
				<PeerTable rows={view.rows} room={room} columns={columns} />
			)}
			<Text dimColor>q to quit, f for {list === 'files' ? 'peers' : 'files'}</Text>
		</Box>
	);
}
