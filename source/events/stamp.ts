import {asyncScheduler, map, type OperatorFunction, type SchedulerLike} from 'rxjs';
import type {RunEvent, TimedEvent} from './events.js';

/** Gives each event the time it happened (milliseconds since the epoch, or virtual time in tests). */
export function stampEvents(
	scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<RunEvent, TimedEvent> {
	return map((event) => ({...event, at: scheduler.now()}));
}
