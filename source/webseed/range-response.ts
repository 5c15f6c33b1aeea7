import type {IncomingHttpHeaders} from 'node:http';
import {WebSeedError} from './web-seed-error.js';

/**
 * What to do with a response's body: drop `skip` bytes, keep the next `length`. `exact` says the
 * framing ends the body right after them, so it can be read to its end and the connection reused;
 * otherwise the response is closed once they are in.
 */
export type BodyPlan = {skip: number; length: number; exact: boolean};

/** What a response head means for a range request: follow `redirect`, read a body, or fail. */
export type ResponsePlan = {redirect: string} | {body: BodyPlan} | {error: WebSeedError};

/** RFC 9110 §15.4: the redirects a GET follows by asking the Location again, with the same method. */
const redirectStatuses = new Set([301, 302, 303, 307, 308]);

/** RFC 9110 §14.4: `bytes first-last/complete-length`, the complete length `*` when unknown. */
const contentRangePattern = /^bytes\s+(\d+)-(\d+)\/(\d+|\*)$/i;

/**
 * Reads a response head against the range asked (`end` inclusive, RFC 9110 §14.1.2). A `206`
 * must carry exactly that range; a `200` is a server that ignored `Range` (allowed, RFC 9110
 * §14.2) and is read as a stream from which the range is cut; everything else is a redirect or a
 * failure, classified for the retry policy.
 */
export function planResponse(
	status: number,
	headers: IncomingHttpHeaders,
	range: {start: number; end: number},
): ResponsePlan {
	const length = range.end - range.start + 1;
	const contentLength = parseContentLength(headers['content-length']);
	const encoding = headers['content-encoding']?.trim().toLowerCase();
	if ((status === 200 || status === 206) && encoding && encoding !== 'identity') {
		// RFC 9110 §14.1: the range would be of the encoded bytes, which is not the file.
		const message = `Content-Encoding: ${encoding} though identity was asked`;
		return {error: new WebSeedError('http-status', message, {status})};
	}

	if (status === 206) {
		const mismatch = contentRangeMismatch(headers['content-range'], range);
		if (mismatch) {
			return {error: new WebSeedError('bad-range', mismatch, {status})};
		}

		if (contentLength !== undefined && contentLength < length) {
			return {error: tooShort(`the 206 body is ${contentLength} bytes, ${length} were asked`, status)};
		}

		return {body: {skip: 0, length, exact: contentLength === length}};
	}

	if (status === 200) {
		if (contentLength !== undefined && contentLength < range.end + 1) {
			return {
				error: tooShort(`the file is ${contentLength} bytes, bytes up to ${range.end} were asked`, status),
			};
		}

		return {body: {skip: range.start, length, exact: contentLength === range.end + 1}};
	}

	if (redirectStatuses.has(status)) {
		const location = headers.location;
		return location
			? {redirect: location}
			: {error: new WebSeedError('redirect', `HTTP ${status} without a Location`, {status})};
	}

	return {error: statusError(status)};
}

/** Why a 206's Content-Range is not the range asked, or undefined when it is. */
function contentRangeMismatch(header: string | undefined, {start, end}: {start: number; end: number}) {
	const asked = `bytes ${start}-${end}`;
	const match = contentRangePattern.exec(header?.trim() ?? '');
	if (!match) {
		return `asked ${asked}, the 206 says Content-Range: ${header ?? '(none)'}`;
	}

	const [, first, last, complete] = match;
	if (Number(first) !== start || Number(last) !== end) {
		return `asked ${asked}, got ${header}`;
	}

	if (complete !== '*' && Number(complete) <= end) {
		return `asked ${asked}, but the file is ${complete} bytes (${header})`;
	}

	return undefined;
}

/** A status that is neither a body nor a redirect, as the retry policy needs it. */
function statusError(status: number): WebSeedError {
	if (status === 416) {
		return new WebSeedError('bad-range', 'HTTP 416: the server cannot satisfy the range', {status});
	}

	if (status === 404 || status === 410) {
		return new WebSeedError('not-found', `HTTP ${status}: no such file on the web seed`, {status});
	}

	if (status === 401 || status === 403) {
		return new WebSeedError('forbidden', `HTTP ${status}: the web seed refuses the file`, {status});
	}

	// RFC 6585 §4: 429 says "later", as a 5xx does.
	if (status === 429 || (status >= 500 && status <= 599)) {
		return new WebSeedError('server-error', `HTTP ${status} from the web seed`, {status});
	}

	return new WebSeedError('http-status', `HTTP ${status}: not a range response`, {status});
}

function tooShort(message: string, status: number): WebSeedError {
	return new WebSeedError('too-short', message, {status});
}

/** RFC 9110 §8.6: a non-negative decimal; anything else (or a list node did not merge) is no length. */
function parseContentLength(header: string | undefined): number | undefined {
	return header !== undefined && /^\d{1,15}$/.test(header) ? Number(header) : undefined;
}
