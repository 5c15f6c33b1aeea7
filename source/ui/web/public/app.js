// The web view: renders each snapshot the server pushes. Everything arrives formatted; peer
// client names come from strangers, so text goes in with textContent, never as HTML.
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

function render(view) {
	const head = byId('columns');
	if (!head.hasChildNodes()) {
		head.replaceChildren(...row('th', view.columns).childNodes);
	}

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
	document.title = `${view.percent} ${view.name} – torrent-rx`;
	const rows = view.rows.map(({address, cells}) => {
		const line = row('td', cells);
		line.dataset.peer = address;
		return line;
	});
	byId('rows').replaceChildren(...rows);
	byId('empty').hidden = rows.length > 0;
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
