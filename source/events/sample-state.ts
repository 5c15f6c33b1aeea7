import {asyncScheduler, type MonoTypeOperatorFunction, type SchedulerLike, throttleTime} from 'rxjs';

/** Views redraw at most this often: ten a second looks live and costs nothing next to the download. */
export const viewPeriodMs = 100;

/**
 * The state for views and their servers: the first at once, then at most one per period, and
 * always the last, so a view never misses how the run ended.
 */
export function sampleState<T>(
	periodMs = viewPeriodMs,
	scheduler: SchedulerLike = asyncScheduler,
): MonoTypeOperatorFunction<T> {
	return throttleTime(periodMs, scheduler, {leading: true, trailing: true});
}
