import { InvalidOptionError, LockAcquireTimeoutError } from '../errors.js';
import { MAX_TIMER_DELAY } from '../sleep.js';
import { rejectUnknownOptions } from '../validate.js';

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
 * A queued caller. Its object identity is also its ownership token once the key is handed to it.
 */
interface Waiter {
  /** Called by the releaser after it made this waiter the owner: settle the caller's promise. */
  readonly wake: () => void;
}

/**
 * One key's state. An entry is in the map exactly while its key is held: waiters only ever queue
 * behind a holder, so "no holder" implies "no waiters" and the entry is deleted at that moment.
 */
interface Entry {
  /** The current holder's token, or `null` once the entry has been deleted from the map. */
  owner: object | null;
  /** Waiters in arrival order (a `Set` iterates in insertion order and deletes in O(1)). */
  readonly queue: Set<Waiter>;
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
 * time. A waiter never holds a reference to an entry it will "lock later": it sits in the entry's
 * queue and the releaser makes it the owner. An entry is deleted only when its queue is empty, so
 * no waiter can be left behind on a deleted entry, and a release function compares its own token
 * with the entry's owner, so a stale release can never free a newer holder or a newer entry.
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
  readonly #entries = new Map<string, Entry>();

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
   * @param key - a non-empty string
   * @param options - abort signal and wait limit, see {@link KeyedMutexAcquireOptions}
   * @returns a promise of the release function
   */
  async acquire(key: string, options?: KeyedMutexAcquireOptions): Promise<() => void> {
    assertKey(key);
    const { signal, waitTimeout } = parseOptions(options);
    signal?.throwIfAborted();

    // Look up and take-or-enqueue in one synchronous step: see the class comment on ABA.
    const entry = this.#entries.get(key);
    if (entry === undefined) return this.#create(key);
    if (waitTimeout === 0) throw new LockAcquireTimeoutError(key, 0);

    let timer: ReturnType<typeof setTimeout> | undefined;
    let onAbort: (() => void) | undefined;
    try {
      return await new Promise<() => void>((resolve, reject) => {
        const self: Waiter = {
          wake: () => resolve(() => this.#release(key, entry, self)),
        };
        entry.queue.add(self);

        // Leave only while still queued: once handed the key, the waiter owns it and must not
        // reject (the caller would never learn it has to release).
        const leave = (reason: unknown): void => {
          if (entry.queue.delete(self)) reject(reason);
        };
        if (signal !== undefined) {
          onAbort = () => leave(signal.reason);
          signal.addEventListener('abort', onAbort, { once: true });
        }
        if (waitTimeout !== undefined) {
          // Longer waits than one timer can take are split into several timers.
          let remaining = waitTimeout;
          const arm = (): void => {
            const step = Math.min(remaining, MAX_TIMER_DELAY);
            timer = setTimeout(() => {
              remaining -= step;
              if (remaining > 0) arm();
              else leave(new LockAcquireTimeoutError(key, waitTimeout));
            }, step);
          };
          arm();
        }
      });
    } finally {
      if (timer !== undefined) clearTimeout(timer);
      if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
    }
  }

  /**
   * Takes `key` if nobody holds it, without waiting.
   *
   * Never jumps the queue: a key that was just handed to a waiter counts as held even before that
   * waiter's code resumes.
   *
   * @param key - a non-empty string
   * @returns the release function (a second call is a no-op), or `null` if `key` is held
   * @throws InvalidOptionError when `key` is not a non-empty string (synchronously: this API is sync)
   */
  tryAcquire(key: string): (() => void) | null {
    assertKey(key);
    return this.#entries.has(key) ? null : this.#create(key);
  }

  /**
   * Acquires `key`, runs `fn`, and releases in `finally`. The value `fn` returns (or resolves to)
   * is passed through, and so is the error it throws (or rejects with), after the release.
   *
   * Rejects like {@link KeyedMutex.acquire} when the key cannot be acquired; `fn` is not called then.
   *
   * @param key - a non-empty string
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
   * @throws InvalidOptionError when `key` is not a non-empty string
   */
  isLocked(key: string): boolean {
    assertKey(key);
    return this.#entries.has(key);
  }

  /**
   * Number of callers queued on `key`, not counting the holder. `0` for an idle key.
   * @throws InvalidOptionError when `key` is not a non-empty string
   */
  waiting(key: string): number {
    assertKey(key);
    return this.#entries.get(key)?.queue.size ?? 0;
  }

  /**
   * Number of live entries: keys currently held (waiters only queue behind a holder).
   * `0` when the mutex is idle, which shows that entries are removed.
   */
  get size(): number {
    return this.#entries.size;
  }

  /** Creates the entry for a free key, owned by a fresh token, and returns its release function. */
  #create(key: string): () => void {
    const token = {};
    const entry: Entry = { owner: token, queue: new Set() };
    this.#entries.set(key, entry);
    return () => this.#release(key, entry, token);
  }

  /**
   * Releases `entry` if `token` still owns it: hands it to the oldest waiter, or deletes it.
   * Synchronous from the ownership check to the map update, so nobody can observe (or enqueue
   * on) an entry in between. A token that no longer owns the entry (second call of a release
   * function) changes nothing.
   */
  #release(key: string, entry: Entry, token: object): void {
    if (entry.owner !== token) return;
    const next = first(entry.queue);
    if (next === undefined) {
      entry.owner = null;
      this.#entries.delete(key);
      return;
    }
    entry.queue.delete(next);
    entry.owner = next;
    next.wake();
  }
}

function first<T>(set: Set<T>): T | undefined {
  for (const item of set) return item;
  return undefined;
}

function assertKey(key: unknown): asserts key is string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidOptionError('key', 'a non-empty string', key);
  }
}

function parseOptions(options: unknown): KeyedMutexAcquireOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object or undefined', options);
  }
  rejectUnknownOptions(options, ['signal', 'waitTimeout'], 'KeyedMutex.acquire()');
  const { signal, waitTimeout } = options as Record<string, unknown>;
  if (signal !== undefined && !isAbortSignal(signal)) {
    throw new InvalidOptionError('signal', 'an AbortSignal or undefined', signal);
  }
  if (waitTimeout !== undefined && (typeof waitTimeout !== 'number' || !Number.isFinite(waitTimeout) || waitTimeout < 0)) {
    throw new InvalidOptionError('waitTimeout', 'a finite number >= 0', waitTimeout);
  }
  return { signal, waitTimeout };
}

function isAbortSignal(value: unknown): value is AbortSignal {
  if (typeof value !== 'object' || value === null) return false;
  const candidate = value as Partial<AbortSignal>;
  return (
    typeof candidate.aborted === 'boolean' &&
    typeof candidate.addEventListener === 'function' &&
    typeof candidate.removeEventListener === 'function' &&
    typeof candidate.throwIfAborted === 'function'
  );
}
