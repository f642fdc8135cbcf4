import { EXCLUSIVE, SHARED } from '../engine/driver.js';
import { KeyQueue } from '../engine/key-queue.js';
import { InvalidOptionError, LockAcquireTimeoutError } from '../errors.js';
import { rejectUnknownOptions, validateKey, validateSignal, validateWaitTimeout } from '../validate.js';
import type { KeyedMutexAcquireOptions } from './keyed-mutex.js';

/** The holders of one key: readers, or one writer. In the map exactly while the key is held. */
interface KeyState {
  readonly readers: Set<object>;
  writer: object | undefined;
}

/**
 * An in-process read-write lock per string key: many readers or one writer. Entries are created
 * on demand and deleted as soon as a key is neither held nor waited on. Writer-preferring FIFO:
 * a reader enters at once only when no writer holds the key and nobody waits; otherwise it
 * queues, so a waiting writer is never starved by a stream of readers. On release the key is
 * handed directly to the oldest waiter, and to every reader queued right behind it with it
 * (readers queued together enter together); nobody can barge in between.
 *
 * No ABA, for the reasons the `KeyedMutex` class comment gives: every step that reads and
 * changes the map and the queue (look up + take or enqueue; release + hand off or delete) is
 * synchronous, a waiter never keeps a reference to an entry (it sits in the key's `KeyQueue`
 * and is granted the key), and each release function carries its own token, which a newer
 * entry of the same key can never contain.
 *
 * @example
 * ```ts
 * const rw = new KeyedRWMutex();
 * const price = await rw.runRead(`sku:${sku}`, () => cache.get(sku));
 * await rw.runWrite(`sku:${sku}`, () => cache.refresh(sku), { waitTimeout: 5_000 });
 * ```
 */
export class KeyedRWMutex {
  readonly #states = new Map<string, KeyState>();
  /** Callers waiting for a held key, in arrival order, each ticket with its claim. */
  readonly #queue = new KeyQueue<() => void>();

  /**
   * Waits until `key` may be read and resolves to the release function (a second call is a
   * no-op). Rejects with `InvalidOptionError`, `signal.reason`, or `LockAcquireTimeoutError`
   * after `waitTimeout` ms, as `KeyedMutex.acquire` does.
   */
  acquireRead(key: string, options?: KeyedMutexAcquireOptions): Promise<() => void> {
    return this.#acquire(key, false, options);
  }

  /** Waits until `key` is this writer's alone; see {@link acquireRead}. */
  acquireWrite(key: string, options?: KeyedMutexAcquireOptions): Promise<() => void> {
    return this.#acquire(key, true, options);
  }

  /**
   * Reads `key` now if no writer holds it and nobody waits: the release function, or `null`.
   * @throws InvalidOptionError when `key` is not valid (synchronously: this API is sync)
   */
  tryAcquireRead(key: string): (() => void) | null {
    validateKey(key);
    return this.#free(key, false) ? this.#take(key, false) : null;
  }

  /** Takes `key` for writing now if nobody holds or waits for it: the release function, or `null`. */
  tryAcquireWrite(key: string): (() => void) | null {
    validateKey(key);
    return this.#free(key, true) ? this.#take(key, true) : null;
  }

  /** Reads `key` while `fn` runs (released in `finally`); passes `fn`'s value or error through. */
  runRead<T>(key: string, fn: () => Promise<T> | T, options?: KeyedMutexAcquireOptions): Promise<T> {
    return this.#run(key, false, fn, options);
  }

  /** Writes `key` while `fn` runs (released in `finally`); passes `fn`'s value or error through. */
  runWrite<T>(key: string, fn: () => Promise<T> | T, options?: KeyedMutexAcquireOptions): Promise<T> {
    return this.#run(key, true, fn, options);
  }

  /** Readers holding `key` now. */
  readers(key: string): number {
    validateKey(key);
    return this.#states.get(key)?.readers.size ?? 0;
  }

  /** Whether a writer holds `key` now (including one just handed the key that has not resumed yet). */
  isWriteLocked(key: string): boolean {
    validateKey(key);
    return this.#states.get(key)?.writer !== undefined;
  }

  /** Whether anyone (readers or a writer) holds `key` now. */
  isLocked(key: string): boolean {
    validateKey(key);
    return this.#states.has(key);
  }

  /** Callers queued on `key`, not counting holders. */
  waiting(key: string): number {
    validateKey(key);
    return this.#queue.queued(key);
  }

  /** Number of live entries: keys held now. `0` when idle, which shows that entries are removed. */
  get size(): number {
    return this.#states.size;
  }

  async #acquire(key: string, write: boolean, options: unknown): Promise<() => void> {
    validateKey(key);
    const { signal, waitTimeout } = parseKeyedOptions(options, write ? 'KeyedRWMutex.acquireWrite()' : 'KeyedRWMutex.acquireRead()');
    signal?.throwIfAborted();
    // Look up and take-or-enqueue in one synchronous step (no ABA).
    if (this.#free(key, write)) return this.#take(key, write);
    if (waitTimeout === 0) throw new LockAcquireTimeoutError(key, 0);
    const deadline = waitTimeout === undefined ? Infinity : performance.now() + waitTimeout;
    const ticket = this.#queue.enqueue(key, write ? EXCLUSIVE : SHARED);
    try {
      for (;;) {
        // Once granted, the key is this caller's: a later abort or timeout changes nothing.
        await ticket.sleep(deadline - performance.now(), signal);
        const release = ticket.takeGranted();
        if (release !== undefined) return release;
        if (performance.now() >= deadline) throw new LockAcquireTimeoutError(key, waitTimeout ?? 0);
      }
    } finally {
      if (!ticket.left) {
        ticket.leave(false);
        // A writer that gives up may have been all that held back the readers behind it.
        this.#dispatch(key);
      }
    }
  }

  async #run<T>(key: string, write: boolean, fn: () => Promise<T> | T, options: unknown): Promise<T> {
    if (typeof fn !== 'function') throw new InvalidOptionError('fn', 'a function', fn);
    const release = await this.#acquire(key, write, options);
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Whether a newcomer may enter now: nobody waits, and the holders admit it. */
  #free(key: string, write: boolean): boolean {
    if (this.#queue.queued(key) > 0) return false;
    const state = this.#states.get(key);
    return state === undefined || (!write && state.writer === undefined);
  }

  /** Makes a fresh token a holder of `key` and returns its release function. */
  #take(key: string, write: boolean): () => void {
    let state = this.#states.get(key);
    if (state === undefined) {
      state = { readers: new Set(), writer: undefined };
      this.#states.set(key, state);
    }
    const token = {};
    if (write) {
      state.writer = token;
      return () => this.#release(key, token, true);
    }
    state.readers.add(token);
    return () => this.#release(key, token, false);
  }

  /** Releases `token`'s hold on `key` if it still has one, then hands the key on. */
  #release(key: string, token: object, write: boolean): void {
    const state = this.#states.get(key);
    if (state === undefined) return;
    if (write) {
      if (state.writer !== token) return;
      state.writer = undefined;
    } else if (!state.readers.delete(token)) return;
    this.#dispatch(key);
  }

  /**
   * Grants `key` to the head of its queue while the holders admit it: a writer when nobody
   * holds the key, every reader at the head when no writer holds it. Deletes an idle key.
   * Synchronous from the look-up to the grants.
   */
  #dispatch(key: string): void {
    for (;;) {
      const state = this.#states.get(key);
      const head = this.#queue.first(key);
      if (head === undefined) {
        if (state !== undefined && state.writer === undefined && state.readers.size === 0) this.#states.delete(key);
        return;
      }
      const write = head.claim === EXCLUSIVE;
      const held = state !== undefined && (state.writer !== undefined || state.readers.size > 0);
      if (write ? held : state?.writer !== undefined) return;
      head.grant(this.#take(key, write));
      if (write) return;
    }
  }
}

function parseKeyedOptions(options: unknown, what: string): KeyedMutexAcquireOptions {
  if (options === undefined) return {};
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object or undefined', options);
  }
  rejectUnknownOptions(options, ['signal', 'waitTimeout'], what);
  const { signal, waitTimeout } = options as Record<string, unknown>;
  return {
    signal: validateSignal(signal),
    waitTimeout: waitTimeout === undefined ? undefined : validateWaitTimeout(waitTimeout),
  };
}
