import test from 'ava';
import {type Observable, throwError} from 'rxjs';
import {Bitfield} from '../../source/codec/bitfield.js';
import {savingResume} from '../../source/run/resume-saves.js';
import type {ResumeStore} from '../../source/storage/resume-file.js';
import {testScheduler} from '../helpers/marbles.js';

/** A resume store whose saves are each the cold `save$`; `load` is not used here. */
function resumeSaving(save$: Observable<void>): ResumeStore {
	return {load: () => throwError(() => new Error('not used')), save: () => save$};
}

test('saves at most every 2 s while pieces are verified, stops at completion, and saves once more before the run completes', (t) => {
	testScheduler(t).run(({cold, hot, expectObservable, expectSubscriptions}) => {
		const save$ = cold<void>('-|');
		const verified$ = hot<number>('-a-b 2496ms c 499ms d 2999ms e');
		const completed$ = hot<void>('5000ms x');
		const events$ = cold<string>('6100ms (z|)');
		const saving = savingResume<string>(resumeSaving(save$), {have: new Bitfield(4), verified$, completed$});
		expectObservable(events$.pipe(saving)).toBe('6100ms z|');
		expectSubscriptions(save$.subscriptions).toBe([
			// `a` at 1 opens a window; the save 2 s later takes `b` with it.
			'2001ms ^!',
			// `c` at 2500 opens the next, `d` at 3000 inside it.
			'4500ms ^!',
			// `e` at 6000 comes after completion: no save of its own, but the final one once the events end.
			'6100ms ^!',
		]);
	});
});

test('a run cut short sends its save on the way out, and does not wait for it', (t) => {
	testScheduler(t).run(({cold, hot, expectObservable, expectSubscriptions}) => {
		const save$ = cold<void>('---|');
		const saving = savingResume<string>(resumeSaving(save$), {
			have: new Bitfield(4),
			verified$: hot('-'),
			completed$: hot('-'),
		});
		const events$ = cold<string>('a-b----c|');
		expectObservable(events$.pipe(saving), '^---!').toBe('a-b-');
		expectSubscriptions(events$.subscriptions).toBe('^---!');
		// Subscribed as the run is let go, and left to finish by itself.
		expectSubscriptions(save$.subscriptions).toBe('----^--!');
	});
});

test('a failed run saves on its way out and fails all the same; a failed save is not a failed run', (t) => {
	testScheduler(t).run(({cold, hot, expectObservable, expectSubscriptions}) => {
		const save$ = cold<void>('-#');
		const verified$ = hot<number>('-a');
		const completed$ = hot<void>('2050ms x');
		const saving = savingResume<string>(resumeSaving(save$), {have: new Bitfield(4), verified$, completed$});
		expectObservable(cold<string>('2100ms #').pipe(saving)).toBe('2100ms #');
		expectObservable(cold<string>('2100ms |').pipe(saving)).toBe('2100ms -|');
		// Each run: the regular save at 2001; then the one on the way out, or the final one.
		expectSubscriptions(save$.subscriptions).toBe(['2001ms ^!', '2001ms ^!', '2100ms ^!', '2100ms ^!']);
	});
});

test('without a resume store the events pass unchanged', (t) => {
	testScheduler(t).run(({cold, hot, expectObservable}) => {
		const events$ = cold<string>('a-b|');
		expectObservable(
			events$.pipe(
				savingResume<string>(undefined, {have: new Bitfield(4), verified$: hot('a'), completed$: hot('-')}),
			),
		).toBe('a-b|');
	});
});

test('each save records the bitfield as it is at that moment', (t) => {
	const have = new Bitfield(4);
	const saved: number[] = [];
	const resume: ResumeStore = {
		load: () => throwError(() => new Error('not used')),
		save(bitfield) {
			saved.push(bitfield.count);
			return throwError(() => new Error('disk full'));
		},
	};
	testScheduler(t).run(({cold, hot, expectObservable}) => {
		const verified$ = hot<number>('-a 2198ms b', {a: 0, b: 1});
		verified$.subscribe((index) => have.set(index));
		const completed$ = hot<void>('2500ms x');
		const events$ = cold<string>('3000ms |');
		expectObservable(events$.pipe(savingResume(resume, {have, verified$, completed$}))).toBe('3000ms |');
	});
	// Piece 0 at 2001; both at the end. Neither failure failed the run.
	t.deepEqual(saved, [1, 2]);
});
