// The web view: renders each snapshot the server pushes. Everything arrives formatted; peer
// client names and file paths come from strangers, so text goes in with textContent, never as HTML.
const byId = (id) => document.getElementById(id);

function row(tag, texts) {
	const line = document.createElement('tr');
	for (const text of texts) {
		const cell = document.createElement(tag);
		cell.textContent = text;
		line.append(cell);
	}

	return line;
}

function setHead(id, columns) {
	const head = byId(id);
	if (!head.hasChildNodes()) {
		head.replaceChildren(...row('th', columns).childNodes);
	}
}

// Below the peers: each file with its progress, those not selected marked (the snapshot sends a
// few hundred at most, and a line for the rest). No list at all in logs from before it was kept.
function renderFiles(view) {
	const {rows, more} = view.files;
	byId('files-section').hidden = rows.length === 0;
	setHead('file-columns', view.fileColumns);
	const lines = rows.map(({number, selected, cells}) => {
		const line = row('td', cells);
		line.dataset.file = String(number);
		line.classList.toggle('skipped', !selected);
		return line;
	});
	byId('files').replaceChildren(...lines);
	byId('more-files').textContent = more;
	byId('more-files').hidden = !more;
}

function render(view) {
	setHead('columns', view.columns);
	byId('name').textContent = view.name || 'torrent-rx';
	byId('activity').textContent = view.activity;
	byId('progress').value = view.progress;
	byId('percent').textContent = view.percent;
	byId('pieces').textContent = view.pieces;
	byId('download-rate').textContent = view.downloadRate;
	byId('upload-rate').textContent = view.uploadRate;
	byId('eta').textContent = view.eta;
	byId('peers').textContent = view.peers;
	byId('tracker').textContent = view.tracker || '–';
	byId('selection').textContent = view.selection;
	byId('selection').hidden = !view.selection;
	byId('selection-label').hidden = !view.selection;
	document.title = `${view.percent} ${view.name} – torrent-rx`;
	const rows = view.rows.map(({address, cells}) => {
		const line = row('td', cells);
		line.dataset.peer = address;
		return line;
	});
	byId('rows').replaceChildren(...rows);
	byId('empty').hidden = rows.length > 0;
	renderFiles(view);
}

const events = new EventSource('events');
events.addEventListener('snapshot', (message) => {
	render(JSON.parse(message.data));
	byId('connection').textContent = 'Live';
});
events.addEventListener('end', () => {
	events.close();
	byId('connection').textContent = 'The run has ended.';
});
events.addEventListener('error', () => {
	if (events.readyState === EventSource.CLOSED) {
		byId('connection').textContent = 'The run has ended.';
	} else {
		byId('connection').textContent = 'Reconnecting…';
	}
});
