import {map, type Observable} from 'rxjs';
import type {Metainfo} from '../codec/metainfo.js';
import {isWebSeedUrl, webSeedFileUrl} from '../codec/web-seed-url.js';
import {type RangeClientOptions, rangeClient} from './http-range.js';
import type {WebSeedPort} from './web-seed.js';

/** Web seeds taken from one torrent at most: a stranger's `url-list` may list thousands. */
export const maxWebSeeds = 20;

/**
 * The web seeds a run uses: the torrent's `url-list` (BEP 19) and a magnet link's `ws=`, http and
 * https only, each once, `maxWebSeeds` at most.
 */
export function webSeedUrls(metainfo: Metainfo, more: readonly string[] = []): string[] {
	return [...new Set([...(metainfo.webSeeds ?? []), ...more].filter(isWebSeedUrl))].slice(0, maxWebSeeds);
}

/**
 * The torrent's web seeds as the run's ports, over one HTTP client (keep-alive connections by
 * host, closed when the run lets go): each range of a file goes to the URL BEP 19 gives that
 * file on that seed.
 */
export function openWebSeeds(
	metainfo: Metainfo,
	urls: readonly string[],
	options: RangeClientOptions,
): Observable<readonly WebSeedPort[]> {
	return rangeClient(options).pipe(
		map((client) =>
			urls.map(
				(url): WebSeedPort => ({
					seed: url,
					fetch: (range) => {
						const file = metainfo.files[range.fileIndex];
						if (!file) {
							throw new RangeError(`no file ${range.fileIndex} in the torrent`);
						}

						return client.fetch({
							url: webSeedFileUrl(url, metainfo, file),
							start: range.start,
							end: range.end,
						});
					},
				}),
			),
		),
	);
}
