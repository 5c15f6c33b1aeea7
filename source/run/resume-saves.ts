import {
	auditTime,
	catchError,
	concat,
	concatMap,
	defer,
	EMPTY,
	finalize,
	ignoreElements,
	type MonoTypeOperatorFunction,
	merge,
	type Observable,
	type SchedulerLike,
	takeUntil,
	tap,
} from 'rxjs';
import type {Bitfield} from '../codec/bitfield.js';
import type {ResumeStore} from '../storage/resume-file.js';

/** How often, at most, the resume file is rewritten while pieces arrive. */
export const resumeSaveMs = 2000;

/** When the resume file is saved during a run, and what it records. */
export type ResumeSaves = {
	/** The pieces we hold, read at each save (the picker's own bitfield, which it keeps up to date). */
	have: Bitfield;
	/** Emits as each piece is verified and stored. */
	verified$: Observable<unknown>;
	/** Emits once the download is complete: the regular saves stop (the final one follows the run). */
	completed$: Observable<unknown>;
	scheduler?: SchedulerLike;
};

/**
 * Keeps the resume file up to date around a run's events: a save at most every `resumeSaveMs`
 * while pieces are verified, until the download is complete; one more once the events complete,
 * before the run completes; and when the run is cut short (unsubscribed, or failed), a save sent
 * on the way out that nothing waits for. A failed save is only a slower next start (the files are
 * checked instead), so it never fails the run. The regular saves hold the events open until
 * `completed$` (or the end of `verified$`): a run's events never end before it is complete.
 * Without a resume store the events pass unchanged.
 */
export function savingResume<T>(
	resume: ResumeStore | undefined,
	saves: ResumeSaves,
): MonoTypeOperatorFunction<T> {
	if (!resume) {
		return (events$) => events$;
	}

	const save = () => resume.save(saves.have).pipe(catchError(() => EMPTY));
	return (events$) =>
		defer(() => {
			const regular$ = saves.verified$.pipe(
				auditTime(resumeSaveMs, saves.scheduler),
				concatMap(save),
				ignoreElements(),
				takeUntil(saves.completed$),
			);
			const finalSave$ = defer(save).pipe(ignoreElements());
			let saved = false;
			return concat(merge(regular$, events$), finalSave$).pipe(
				tap({complete: () => (saved = true)}),
				finalize(() => {
					if (!saved) {
						resume.save(saves.have).subscribe({error: () => undefined});
					}
				}),
			);
		});
}
