import {Box, Text} from 'ink';
import {fileColumns} from '../file-list.js';
import type {RunSnapshot} from '../snapshot.js';

/** Column widths, each with its padding; the File column takes whatever room is left. */
const columnWidths: Record<(typeof fileColumns)[number], number> = {
	'#': 6,
	File: 20,
	Size: 10,
	Done: 6,
};

function Row({cells, bold, dim}: {cells: readonly string[]; bold?: boolean; dim?: boolean}) {
	return (
		<Box>
			{fileColumns.map((column, index) => (
				<Box
					key={column}
					flexBasis={columnWidths[column]}
					flexGrow={column === 'File' ? 1 : 0}
					flexShrink={column === 'File' ? 1 : 0}
					paddingRight={index < fileColumns.length - 1 ? 1 : 0}
				>
					{/* A deep path keeps both its top folder and the file's own name. */}
					<Text bold={bold} dimColor={dim} wrap={column === 'File' ? 'truncate-middle' : 'truncate-end'}>
						{cells[index] ?? ''}
					</Text>
				</Box>
			))}
		</Box>
	);
}

/**
 * The file list in `room` lines and one more: as many rows as fit, then a line counting the
 * files left out, those the snapshot did not carry included. Files not selected are dimmed.
 */
export function FileTable({files, room}: {files: RunSnapshot['files']; room: number}) {
	// With one row too few, the "+N more" line would hide just one file: show it instead.
	const shown = files.omitted === 0 && files.rows.length <= room + 1 ? files.rows : files.rows.slice(0, room);
	const hidden = files.rows.length - shown.length + files.omitted;
	return (
		<Box flexDirection="column">
			<Row cells={fileColumns} bold />
			{shown.map((row) => (
				<Row key={row.number} cells={row.cells} dim={!row.selected} />
			))}
			{hidden > 0 ? <Text dimColor>+{hidden} more</Text> : null}
			{files.rows.length === 0 ? <Text dimColor>no files listed yet</Text> : null}
		</Box>
	);
}
