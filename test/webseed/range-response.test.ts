import test from 'ava';
import {planResponse} from '../../source/webseed/range-response.js';

const range = {start: 100, end: 199};

const errorKind = (plan: ReturnType<typeof planResponse>) => ('error' in plan ? plan.error.kind : undefined);

test('a 206 with exactly the range asked is its body; exact when Content-Length ends it there', (t) => {
	t.deepEqual(planResponse(206, {'content-range': 'bytes 100-199/1000', 'content-length': '100'}, range), {
		body: {skip: 0, length: 100, exact: true},
	});
	t.deepEqual(planResponse(206, {'content-range': 'bytes 100-199/1000'}, range), {
		body: {skip: 0, length: 100, exact: false},
	});
	t.deepEqual(planResponse(206, {'content-range': 'bytes 100-199/1000', 'content-length': '150'}, range), {
		body: {skip: 0, length: 100, exact: false},
	});
	// RFC 9110 §14.4: the complete length may be unknown.
	t.deepEqual(planResponse(206, {'content-range': 'BYTES 100-199/*', 'content-length': '100'}, range), {
		body: {skip: 0, length: 100, exact: true},
	});
});

test('a 206 with another range, an unsatisfied one, a file too short for it, or none is bad-range', (t) => {
	for (const contentRange of [
		'bytes 0-99/1000',
		'bytes 100-198/1000',
		'bytes 100-200/1000',
		'bytes */1000',
		'bytes 100-199/199',
		'bytes 100-199',
		'bytes=100-199/1000',
		undefined,
	]) {
		const plan = planResponse(206, contentRange === undefined ? {} : {'content-range': contentRange}, range);
		t.is(errorKind(plan), 'bad-range', contentRange);
	}
});

test('a 206 whose Content-Length is shorter than the range is too-short before any body byte', (t) => {
	const plan = planResponse(206, {'content-range': 'bytes 100-199/1000', 'content-length': '99'}, range);
	t.is(errorKind(plan), 'too-short');
});

test('a 200 skips to the range; too-short when its Content-Length ends before it', (t) => {
	t.deepEqual(planResponse(200, {'content-length': '1000'}, range), {
		body: {skip: 100, length: 100, exact: false},
	});
	t.deepEqual(planResponse(200, {'content-length': '200'}, range), {
		body: {skip: 100, length: 100, exact: true},
	});
	t.deepEqual(planResponse(200, {}, range), {body: {skip: 100, length: 100, exact: false}});
	t.is(errorKind(planResponse(200, {'content-length': '199'}, range)), 'too-short');
	// Not a length at all: read, and let the body's end decide.
	t.deepEqual(planResponse(200, {'content-length': '1e3'}, range), {
		body: {skip: 100, length: 100, exact: false},
	});
});

test('the five redirects carry their Location; without one it is a redirect failure', (t) => {
	for (const status of [301, 302, 303, 307, 308]) {
		t.deepEqual(planResponse(status, {location: '/elsewhere'}, range), {redirect: '/elsewhere'});
		t.is(errorKind(planResponse(status, {}, range)), 'redirect');
	}

	t.is(errorKind(planResponse(300, {location: '/elsewhere'}, range)), 'http-status');
	t.is(errorKind(planResponse(304, {location: '/elsewhere'}, range)), 'http-status');
});

test('statuses map to kinds, retryable for 5xx and 429 only', (t) => {
	const seen = [416, 404, 410, 401, 403, 429, 500, 502, 503, 599, 204, 400, 418, 600].map((status) => {
		const plan = planResponse(status, {}, range);
		return 'error' in plan
			? `${status} ${plan.error.kind} ${plan.error.retryable} ${plan.error.status}`
			: status;
	});
	t.deepEqual(seen, [
		'416 bad-range false 416',
		'404 not-found false 404',
		'410 not-found false 410',
		'401 forbidden false 401',
		'403 forbidden false 403',
		'429 server-error true 429',
		'500 server-error true 500',
		'502 server-error true 502',
		'503 server-error true 503',
		'599 server-error true 599',
		'204 http-status false 204',
		'400 http-status false 400',
		'418 http-status false 418',
		'600 http-status false 600',
	]);
});

test('a body in another Content-Encoding than identity is refused: its range is not of the file', (t) => {
	const contentRange = 'bytes 100-199/1000';
	const gzip = planResponse(206, {'content-range': contentRange, 'content-encoding': 'gzip'}, range);
	t.is(errorKind(gzip), 'http-status');
	t.is(errorKind(planResponse(200, {'content-encoding': 'br'}, range)), 'http-status');
	t.true('body' in planResponse(206, {'content-range': contentRange, 'content-encoding': 'identity'}, range));
});
