import { InvalidOptionError } from '../errors.js';
import { validateKey } from '../validate.js';

/** One call in flight and everyone waiting on it. */
interface Flight<T> {
  readonly promise: Promise<T>;
  /** How many callers got (or will get) this flight's result, the one that started it included. */
  callers: number;
}

/**
 * Coalesces concurrent calls per string key: while a call for a key is in flight, later calls for
 * the same key do not run their function but share the first call's result, value or error.
 * Once the call settles its entry is removed, and the next call runs again (results are not
 * cached).
 *
 * Entries are removed by identity: a settling flight deletes the key only if the key still maps
 * to *that* flight, so after {@link SingleFlight.forget} an older flight can never remove a newer
 * one (the stale-delete half of the ABA bug described in the seeds).
 *
 * @typeParam T - the value the shared functions resolve to
 *
 * @example
 * ```ts
 * const flights = new SingleFlight<User>();
 *
 * // 100 concurrent requests for user 42 cause one database query.
 * const user = await flights.do(`user:${id}`, () => db.loadUser(id));
 *
 * const { value, shared } = await flights.doShared(`user:${id}`, () => db.loadUser(id));
 * ```
 */
export class SingleFlight<T = unknown> {
  readonly #flights = new Map<string, Flight<T>>();

  /**
   * If a call for `key` is in flight, returns its result (the same value, or the same error);
   * otherwise calls `fn` (synchronously, right away) and shares its result with everyone who asks
   * for `key` until it settles.
   *
   * A synchronous throw of `fn` becomes a rejected promise shared by all callers, like an async
   * rejection. Bad input rejects with `InvalidOptionError` (never a synchronous throw).
   *
   * @param key - a non-empty string
   * @param fn - the call to run when none is in flight for `key`
   * @returns a promise of the shared result
   */
  do(key: string, fn: () => Promise<T> | T): Promise<T> {
    try {
      return this.#join(key, fn).promise;
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /**
   * Like {@link SingleFlight.do}, and also reports whether the result was shared, that is,
   * given to more than one caller (as in Go's `x/sync/singleflight`). `shared` is `true` for every
   * caller of a flight that several callers joined, the one that ran `fn` included, and `false`
   * when a single caller got it. A rejection is shared the same way and passed through unchanged.
   *
   * @param key - a non-empty string
   * @param fn - the call to run when none is in flight for `key`
   * @returns a promise of `{ value, shared }`
   */
  doShared(key: string, fn: () => Promise<T> | T): Promise<{ value: T; shared: boolean }> {
    let flight: Flight<T>;
    try {
      flight = this.#join(key, fn);
    } catch (error) {
      return Promise.reject(error);
    }
    // `callers` is final when this runs: the entry was removed by the first reaction on `promise`
    // (registered in #start), before any caller's reaction.
    return flight.promise.then((value) => ({ value, shared: flight.callers > 1 }));
  }

  /**
   * Forgets the in-flight call for `key`, if any, so the next {@link SingleFlight.do} runs a fresh
   * one. Callers already waiting on the forgotten call still get its result; when it settles it
   * does not remove the newer flight.
   *
   * @param key - a non-empty string
   * @throws InvalidOptionError when `key` is not a non-empty string
   */
  forget(key: string): void {
    assertKey(key);
    this.#flights.delete(key);
  }

  /** Number of keys with a call in flight. `0` when idle, which shows that entries are removed. */
  get size(): number {
    return this.#flights.size;
  }

  /** Joins the flight for `key`, or starts one. Throws `InvalidOptionError` on bad input. */
  #join(key: string, fn: () => Promise<T> | T): Flight<T> {
    assertKey(key);
    if (typeof fn !== 'function') throw new InvalidOptionError('fn', 'a function', fn);
    const existing = this.#flights.get(key);
    if (existing !== undefined) {
      existing.callers += 1;
      return existing;
    }
    return this.#start(key, fn);
  }

  #start(key: string, fn: () => Promise<T> | T): Flight<T> {
    let settle!: (value: Promise<T> | T) => void;
    let fail!: (error: unknown) => void;
    const promise = new Promise<T>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    const flight: Flight<T> = { promise, callers: 1 };
    // Registered before fn runs, so a call for `key` made from inside fn joins this flight.
    this.#flights.set(key, flight);

    // First reaction on the promise, so it runs before any caller's. Both handlers return
    // normally: the derived promise never rejects (no unhandled rejection from bookkeeping).
    const remove = (): void => {
      if (this.#flights.get(key) === flight) this.#flights.delete(key);
    };
    promise.then(remove, remove);

    try {
      settle(fn());
    } catch (error) {
      fail(error);
    }
    return flight;
  }
}

function assertKey(key: unknown): asserts key is string {
  validateKey(key);
}
