import {
	asyncScheduler,
	buffer,
	connect,
	filter,
	merge,
	type OperatorFunction,
	type SchedulerLike,
	scan,
	throttleTime,
} from 'rxjs';
import type {TimedEvent} from './events.js';
import {foldRunEvents, initialRunState, type RunState} from './run-state.js';

/** Views redraw at most this often: ten a second looks live and costs nothing next to the download. */
export const viewPeriodMs = 100;

/** Events that start a phase a view must show even if the next one follows at once. */
const isMilestone = (event: TimedEvent) =>
	event.type === 'checked' || event.type === 'completed' || event.type === 'seeding';

/**
 * The state for views and their servers, folded from the events in batches: the first event's
 * at once, then at most one state per period with every event of it, and always the last when
 * the run ends, so a view never misses how the run ended. A check done, the completion and
 * seeding each end their batch, so a completion is seen even when seeding follows it at once.
 * Folding a batch copies the state once,
 * where folding each event did so per block of a fast download.
 */
export function sampleRunState(
	periodMs = viewPeriodMs,
	scheduler: SchedulerLike = asyncScheduler,
): OperatorFunction<TimedEvent, RunState> {
	return (events$) =>
		events$.pipe(
			connect((shared$) =>
				shared$.pipe(
					buffer(
						merge(
							shared$.pipe(throttleTime(periodMs, scheduler, {leading: true, trailing: true})),
							shared$.pipe(filter(isMilestone)),
						),
					),
				),
			),
			filter((batch) => batch.length > 0),
			scan(foldRunEvents, initialRunState),
		);
}
