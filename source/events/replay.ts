import {asyncScheduler, concatMap, from, map, type Observable, type SchedulerLike, timer} from 'rxjs';
import type {TimedEvent} from './events.js';

/**
 * A recorded run as a live one: each event after the gap it originally came after, divided by
 * `speed`. The events keep their recorded times, so rates and durations read as they were.
 */
export function replayEvents(
	events: readonly TimedEvent[],
	{speed, scheduler = asyncScheduler}: {speed: number; scheduler?: SchedulerLike},
): Observable<TimedEvent> {
	return from(
		events.map((event, index) => ({
			event,
			gap: index === 0 ? 0 : event.at - (events[index - 1]?.at ?? event.at),
		})),
	).pipe(concatMap(({event, gap}) => timer(Math.max(0, gap) / speed, scheduler).pipe(map(() => event))));
}
