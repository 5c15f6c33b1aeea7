import {type Observable, type Observer, Subscriber, type Subscription} from 'rxjs';

/**
 * Subscribes `observer` to `source` on behalf of `parent`, and returns the subscription. The
 * subscriber joins `parent` before the source runs, so a consumer that lets go while a
 * synchronous source is still emitting closes it, and the source's loop sees `closed` and stops
 * (rxjs's own operators do the same with their internal `OperatorSubscriber`). A plain observer
 * would be wrapped in a subscriber that `parent` learns of only once `subscribe` returns, which
 * for an endless synchronous source is never. One object per subscription, nothing per value.
 */
export function subscribeChained<T>(
	source: Observable<T>,
	parent: Subscription,
	observer: Observer<T>,
): Subscription {
	const subscriber = new ChainedSubscriber(observer);
	parent.add(subscriber);
	return source.subscribe(subscriber);
}

/** Passes notifications to an observer; a `next` that throws ends it with that error. */
export class ChainedSubscriber<T> extends Subscriber<T> {
	readonly #observer: Observer<T>;

	constructor(observer: Observer<T>) {
		super();
		this.#observer = observer;
	}

	protected override _next(value: T): void {
		try {
			this.#observer.next(value);
		} catch (error) {
			this.error(error);
		}
	}

	protected override _error(error: unknown): void {
		try {
			this.#observer.error(error);
		} finally {
			this.unsubscribe();
		}
	}

	protected override _complete(): void {
		try {
			this.#observer.complete();
		} finally {
			this.unsubscribe();
		}
	}
}
