import { KeyQueue } from '../engine/key-queue.js';
import { InvalidOptionError, LockAcquireTimeoutError } from '../errors.js';
import { rejectUnknownOptions, validateKey, validateSignal, validateWaitTimeout } from '../validate.js';

/** Options of one {@link KeyedMutex.acquire} (or {@link KeyedMutex.run}) call. */
export interface KeyedMutexAcquireOptions {
  /**
   * Abort waiting. The call rejects with `signal.reason` and leaves the queue; an already
   * aborted signal rejects at once without taking the key, even when the key is free.
   * Aborting after the key was handed to this caller has no effect: the caller holds it.
   * @default undefined (wait until acquired or `waitTimeout` passes)
   */
  signal?: AbortSignal;
  /**
   * Give up with `LockAcquireTimeoutError` after this many milliseconds of waiting.
   * A finite number >= 0; `0` means a single attempt (acquire if free, otherwise reject at once).
   * @default undefined (no limit)
   */
  waitTimeout?: number;
}

/**
 * An in-process mutex per string key. Entries are created on demand and deleted as soon as a key
 * is neither held nor waited on, so memory stays proportional to the keys in use. Waiters are
 * served first come, first served: on release the key is handed directly to the oldest waiter,
 * and nobody can barge in between.
 *
 * Why this has no ABA problem (the bug of a ref-counted `sync.Map` of mutexes in Go): there, a
 * goroutine `Load`s the wrapper, *then* bumps its refcount, *then* locks its mutex, while the
 * releaser decrements the refcount, *then* `CompareAndDelete`s the wrapper. Other goroutines run
 * between those steps, so a late goroutine can lock a wrapper that was just removed from the map
 * while a newcomer creates a fresh one: two holders of one key. Here every step that touches the
 * map (look up + take or enqueue in {@link KeyedMutex.acquire}; dequeue + hand off or delete on
 * release) runs synchronously, with no `await` in between, and JavaScript runs one such step at a
 * time. A waiter never holds a reference to an entry it will "lock later": it sits in the key's
 * queue (the engine's `KeyQueue`) and the releaser grants it the key. A key's owner entry is
 * deleted only when nobody is queued on it, so no waiter can be left behind, and a release
 * function compares its own token with the key's owner, so a stale release can never free a
 * newer holder.
 *
 * @example
 * ```ts
 * const mutex = new KeyedMutex();
 *
 * // One writer per account at a time; different accounts run in parallel.
 * await mutex.run(`account:${id}`, async () => {
 *   const balance = await db.getBalance(id);
 *   await db.setBalance(id, balance + amount);
 * }, { waitTimeout: 5_000 });
 *
 * // Or by hand:
 * const release = await mutex.acquire('report', { signal: AbortSignal.timeout(1_000) });
 * try {
 *   await buildReport();
 * } finally {
 *   release();
 * }
 * ```
 */
export class KeyedMutex {
  /** The holder's token per held key; a key is in the map exactly while it is held. */
  readonly #owners = new Map<string, object>();
  /** Callers waiting for a held key, in arrival order; a release grants the oldest the key. */
  readonly #queue = new KeyQueue<() => void>();

  /**
   * Waits until `key` is ours and resolves to its release function. Callers are served in the
   * order they called (FIFO).
   *
   * The release function hands the key to the next waiter, or deletes the key's entry when
   * nobody waits. Calling it again is a no-op: it never releases a later holder.
   *
   * Rejects (never throws synchronously) with `InvalidOptionError` on bad input, with
   * `signal.reason` when `signal` aborts before the key is ours, and with
   * `LockAcquireTimeoutError` after `waitTimeout` ms. A rejected waiter leaves the queue and
   * keeps no timer or listener.
   *
   * @param key - a non-empty, well-formed string (as lock keys)
   * @param options - abort signal and wait limit, see {@link KeyedMutexAcquireOptions}
   * @returns a promise of the release function
   */
  async acquire(key: string, options?: KeyedMutexAcquireOptions): Promise<() => void> {
    validateKey(key);
    const { signal, waitTimeout } = parseOptions(options);
    signal?.throwIfAborted();

    // Look up and take-or-enqueue in one synchronous step: see the class comment on ABA.
    if (!this.#owners.has(key)) return this.#take(key);
    if (waitTimeout === 0) throw new LockAcquireTimeoutError(key, 0);
    const deadline = waitTimeout === undefined ? Infinity : performance.now() + waitTimeout;
    const ticket = this.#queue.enqueue(key);
    try {
      for (;;) {
        // Once granted, the key is this caller's: a later abort or timeout changes nothing.
        await ticket.sleep(deadline - performance.now(), signal);
        const release = ticket.takeGranted();
        if (release !== undefined) return release;
        if (performance.now() >= deadline) throw new LockAcquireTimeoutError(key, waitTimeout ?? 0);
      }
    } finally {
      ticket.leave(false); // a no-op once granted (the grant took it out of the queue)
    }
  }

  /**
   * Takes `key` if nobody holds it, without waiting.
   *
   * Never jumps the queue: a key that was just handed to a waiter counts as held even before that
   * waiter's code resumes.
   *
   * @param key - a non-empty, well-formed string
   * @returns the release function (a second call is a no-op), or `null` if `key` is held
   * @throws InvalidOptionError when `key` is not valid (synchronously: this API is sync)
   */
  tryAcquire(key: string): (() => void) | null {
    validateKey(key);
    return this.#owners.has(key) ? null : this.#take(key);
  }

  /**
   * Acquires `key`, runs `fn`, and releases in `finally`. The value `fn` returns (or resolves to)
   * is passed through, and so is the error it throws (or rejects with), after the release.
   *
   * Rejects like {@link KeyedMutex.acquire} when the key cannot be acquired; `fn` is not called then.
   *
   * @param key - a non-empty, well-formed string
   * @param fn - the critical section
   * @param options - abort signal and wait limit for the acquisition (not for `fn`)
   */
  async run<T>(key: string, fn: () => Promise<T> | T, options?: KeyedMutexAcquireOptions): Promise<T> {
    if (typeof fn !== 'function') throw new InvalidOptionError('fn', 'a function', fn);
    const release = await this.acquire(key, options);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /**
   * Whether `key` is held right now (including just handed to a waiter that has not resumed yet).
   * @throws InvalidOptionError when `key` is not valid
   */
  isLocked(key: string): boolean {
    validateKey(key);
    return this.#owners.has(key);
  }

  /**
   * Number of callers queued on `key`, not counting the holder. `0` for an idle key.
   * @throws InvalidOptionError when `key` is not valid
   */
  waiting(key: string): number {
    validateKey(key);
    return this.#queue.queued(key);
  }

  /**
   * Number of live entries: keys currently held (waiters only queue behind a holder).
   * `0` when the mutex is idle, which shows that entries are removed.
   */
  get size(): number {
    return this.#owners.size;
  }

  /** Makes a fresh token the holder of `key` and returns its release function. */
  #take(key: string): () => void {
    const token = {};
    this.#owners.set(key, token);
    return () => this.#release(key, token);
  }

  /**
   * Releases `key` if `token` still holds it: grants it to the oldest waiter, or deletes it.
   * Synchronous from the ownership check to the map update, so nobody can observe (or enqueue
   * on) a key in between. A token that no longer holds the key (second call of a release
   * function) changes nothing.
   */
  #release(key: string, token: object): void {
    if (this.#owners.get(key) !== token) return;
    const next = this.#queue.first(key);
    if (next === undefined) {
      this.#owners.delete(key);
      return;
    }
    const nextToken = {};
    this.#owners.set(key, nextToken);
    next.grant(() => this.#release(key, nextToken));
  }
}

function parseOptions(options: unknown): KeyedMutexAcquireOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object or undefined', options);
  }
  rejectUnknownOptions(options, ['signal', 'waitTimeout'], 'KeyedMutex.acquire()');
  const { signal, waitTimeout } = options as Record<string, unknown>;
  return {
    signal: validateSignal(signal),
    waitTimeout: waitTimeout === undefined ? undefined : validateWaitTimeout(waitTimeout),
  };
}
