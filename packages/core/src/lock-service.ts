import { InvalidOptionError, LockAcquireTimeoutError, LockLostError, LockNotHeldError } from './errors.js';
import { LockEvents, type LockEvent } from './lock-events.js';
import { CoalescingLock, type CoalescedCaller } from './coalesce/coalescing-lock.js';
import type { Election, Leadership } from './election/types.js';
import {
  leadOptionNames,
  lockServiceOptionNames,
  parseCoalesce,
  withLockOptionNames,
  withPermitOptionNames,
  type LeadOptions,
  type LockServiceOptions,
  type WithPermitOptions,
  type TryWithLockResult,
  type WithLockOptions,
} from './lock-service-options.js';
import { MemoryLock } from './memory/memory-lock.js';
import { autoRenewOf } from './renew-timer.js';
import { acquiredEvent, lostReason, settle } from './run-outcome.js';
import type { DistributedRWLock } from './rw/types.js';
import type { DistributedSemaphore, SemaphoreOptions } from './semaphore/types.js';
import type { AcquireOptions, DistributedLock, LockHandle, LockInfo, RenewObserver } from './types.js';
import { rejectUnknownOptions, validateKey, validateTtl } from './validate.js';

/**
 * Runs functions under a lock: acquire, keep it alive while the function runs, release in
 * `finally`. Works over any {@link DistributedLock}; without one it uses the in-process
 * {@link MemoryLock}.
 *
 * If the lock is lost while the function runs, `handle.signal` aborts at once and `withLock`
 * rejects with {@link LockLostError} even if the function resolved: its work was not exclusive.
 *
 * @example
 * ```ts
 * const locks = new LockService(new RedisLock(redis), { ttl: 10_000 });
 * const device = await locks.withLock(`register:${systemUuid}`, async ({ signal }) => {
 *   return (await db.findSystem(systemUuid, { signal })) ?? db.createSystem(systemUuid);
 * });
 * ```
 */
export class LockService<L extends LockPrimitive = DistributedLock> implements AsyncDisposable {
  /** The lock the service runs functions under: a mutex, a read-write lock, a semaphore or an election. */
  readonly lock: L;
  /**
   * Lock events (waits, acquisitions, releases, renewals, losses, with durations).
   * @example
   * ```ts
   * service.events.on('acquired', (e) => waitHistogram.record(e.waitedMs, { key: e.key }));
   * service.events.on('lost', (e) => log.error(e.error));
   * ```
   */
  readonly events = new LockEvents();
  readonly #ttl: number | undefined;
  readonly #autoRenew: boolean;
  /** With `coalesce`: the coalescing decorator over `lock` that every run goes through. */
  readonly #coalescing: CoalescingLock | undefined;
  readonly #onLockLost: LockServiceOptions['onLockLost'];
  /** The lock's `autoRenew`; for a plain-JavaScript lock written before it was part of the interface, a timer per handle. */
  readonly #renew: DistributedLock['autoRenew'];
  readonly #kind: PrimitiveKind;

  /**
   * @param lock a `DistributedLock` (for `withLock`/`tryWithLock`), a `DistributedRWLock` (for
   *   `withReadLock`/`withWriteLock`), a `DistributedSemaphore` (for `withPermit`) or an `Election`
   *   (for `lead`).
   *   Default: the embedded `MemoryLock`.
   */
  constructor(lock: L = new MemoryLock() as unknown as L, options: LockServiceOptions = {}) {
    this.#kind = primitiveKind(lock);
    this.lock = lock;
    this.#renew = autoRenewOf(lock);
    rejectUnknownOptions(options, lockServiceOptionNames, 'new LockService()');
    this.#ttl = options.ttl === undefined ? undefined : validateTtl(options.ttl);
    this.#autoRenew = options.autoRenew ?? true;
    const coalesce = parseCoalesce(options.coalesce);
    if (coalesce !== undefined && this.#kind !== 'mutex') {
      throw new InvalidOptionError('coalesce', 'false or undefined for a read-write lock or a semaphore (coalescing serves a mutex)', options.coalesce);
    }
    this.#coalescing = coalesce === undefined ? undefined : new CoalescingLock(lock as DistributedLock, coalesce);
    if (options.onLockLost !== undefined && typeof options.onLockLost !== 'function') {
      throw new InvalidOptionError('onLockLost', 'a function', options.onLockLost);
    }
    this.#onLockLost = options.onLockLost;
    if (options.onEvent !== undefined) {
      if (typeof options.onEvent !== 'function') throw new InvalidOptionError('onEvent', 'a function', options.onEvent);
      this.events.on('*', options.onEvent);
    }
  }

  /**
   * Acquires `key` (waiting as `lock()` does), runs `fn(handle)`, releases. Resolves with `fn`'s
   * value; rejects with `fn`'s error, or `LockLostError` if the lock was lost meanwhile.
   */
  async withLock<T>(
    this: LockService<DistributedLock>,
    key: string,
    fn: (handle: LockHandle) => Promise<T> | T,
    options: WithLockOptions = {},
  ): Promise<T> {
    const o = this.#start(key, fn, options, 'mutex', withLockOptionNames, 'withLock()');
    const coalescing = this.#coalescing;
    return this.#run(key, fn, options, () => (coalescing === undefined ? this.lock.lock(key, o) : coalescing.lock(key, o, this.#caller(options))));
  }

  /**
   * `withLock` for readers of a read-write lock: many run at once, never beside a writer.
   * @example
   * ```ts
   * const catalog = new LockService(new MemoryReadWriteLock());
   * const items = await catalog.withReadLock('catalog', () => db.items.list());
   * ```
   */
  async withReadLock<T>(this: LockService<DistributedRWLock>, key: string, fn: (handle: LockHandle) => Promise<T> | T, options: WithLockOptions = {}): Promise<T> {
    const o = this.#start(key, fn, options, 'rw', withLockOptionNames, 'withReadLock()');
    return this.#run(key, fn, options, () => this.lock.readLock(key, o));
  }

  /** `withLock` for the writer of a read-write lock: alone on the key (waiting writers hold back later readers). */
  async withWriteLock<T>(this: LockService<DistributedRWLock>, key: string, fn: (handle: LockHandle) => Promise<T> | T, options: WithLockOptions = {}): Promise<T> {
    const o = this.#start(key, fn, options, 'rw', withLockOptionNames, 'withWriteLock()');
    return this.#run(key, fn, options, () => this.lock.writeLock(key, o));
  }

  /**
   * `withLock` for a semaphore: runs `fn` holding `permits` (default 1) of the key's `limit`.
   * @example
   * ```ts
   * const exports = new LockService(new MemorySemaphore());
   * await exports.withPermit('pdf-render', () => render(doc), { limit: 4 });
   * ```
   */
  async withPermit<T>(this: LockService<DistributedSemaphore>, key: string, fn: (handle: LockHandle) => Promise<T> | T, options: WithPermitOptions): Promise<T> {
    const o = this.#start(key, fn, options, 'semaphore', withPermitOptionNames, 'withPermit()');
    return this.#run(key, fn, options, () => this.lock.acquire(key, o as SemaphoreOptions));
  }

  /**
   * `withLock` for an election: campaigns for `name` (waiting as `campaign()` does), runs
   * `fn(leadership)` as the leader with the watchdog renewing the leadership, resigns after.
   * Rejects with `LockLostError` if the leadership was lost while `fn` ran.
   * @example
   * ```ts
   * const cron = new LockService(new RedisElection(redis));
   * await cron.lead('nightly-billing', ({ term, signal }) => bill({ fence: term, signal }), { value: podName });
   * ```
   */
  async lead<T>(this: LockService<Election>, name: string, fn: (leadership: Leadership) => Promise<T> | T, options: LeadOptions = {}): Promise<T> {
    const { value = '', ...o } = this.#start(name, fn, options, 'election', leadOptionNames, 'lead()') as AcquireOptions & { value?: string };
    const run = fn as (handle: LockHandle) => Promise<T> | T;
    return this.#run(name, run, options, () => this.lock.campaign(name, value, { ...o, autoRenew: false }));
  }

  /** One attempt: runs `fn` only if `key` was free. `fn` is not called otherwise. */
  async tryWithLock<T>(
    this: LockService<DistributedLock>,
    key: string,
    fn: (handle: LockHandle) => Promise<T> | T,
    options: WithLockOptions = {},
  ): Promise<TryWithLockResult<T>> {
    const o = this.#start(key, fn, options, 'mutex', withLockOptionNames, 'tryWithLock()');
    const coalescing = this.#coalescing;
    const handle = await this.#observeWait(key, performance.now(), options.signal, () =>
      coalescing === undefined ? this.lock.tryLock(key, o) : coalescing.tryLock(key, o, this.#caller(options)),
    );
    if (handle === null) return { acquired: false };
    return { acquired: true, value: await this.#runHeld(handle, fn, options) };
  }

  /** Holder, remaining TTL and fencing token of `key`, or `null` if free. */
  getLockInfo(this: LockService<DistributedLock>, key: string): Promise<LockInfo | null> {
    return this.lock.inspect(key);
  }

  isLocked(this: LockService<DistributedLock>, key: string): Promise<boolean> {
    return this.lock.isLocked(key);
  }

  /**
   * Renews `handle` at ttl/3 until it is released or lost, or the returned function is called
   * (the lock's own `autoRenew`, with the service's `renewed`/`renew-failed` events).
   */
  autoRenew(handle: LockHandle): () => void {
    const observer = this.#renewObserver(performance.now());
    // A coalesced caller's handle: the coalescing lock renews the lease behind it (once).
    return this.#coalescing === undefined ? this.#renew(handle, observer) : this.#coalescing.autoRenew(handle, observer);
  }

  /** What the coalescing lock needs to know of a caller (see `CoalescedCaller`). */
  #caller(options: WithLockOptions): CoalescedCaller {
    return { autoRenew: options.autoRenew ?? this.#autoRenew, endsTurns: true, renewObserver: () => this.#renewObserver(performance.now()) };
  }

  #emit(event: LockEvent): void {
    if (this.events.active) this.events.emit(event);
  }

  #renewObserver(heldSince: number): RenewObserver {
    const backend = this.lock.backend;
    return {
      renewed: (h) => this.#emit({ type: 'renewed', key: h.key, backend, heldMs: performance.now() - heldSince }),
      renewFailed: (h, error) =>
        this.#emit({ type: 'renew-failed', key: h.key, backend, heldMs: performance.now() - heldSince, error }),
    };
  }

  /** Runs an acquire and reports it as wait-started / wait-ended (+ acquired). */
  async #observeWait<H extends LockHandle | null>(
    key: string,
    started: number,
    signal: AbortSignal | undefined,
    acquire: () => Promise<H>,
  ): Promise<H> {
    const backend = this.lock.backend;
    this.#emit({ type: 'wait-started', key, backend });
    try {
      const handle = await acquire();
      const waitedMs = performance.now() - started;
      this.#emit({ type: 'wait-ended', key, backend, waitedMs, outcome: handle === null ? 'busy' : 'acquired' });
      if (handle !== null && this.events.active) this.#emit(acquiredEvent(handle, backend, waitedMs));
      return handle;
    } catch (error) {
      const outcome =
        error instanceof LockAcquireTimeoutError
          ? 'timeout'
          : signal?.aborted && error === signal.reason
            ? 'aborted'
            : 'error';
      this.#emit({ type: 'wait-ended', key, backend, waitedMs: performance.now() - started, outcome, error });
      throw error;
    }
  }

  /** Closes the underlying lock (releases what it holds). */
  close(): Promise<void> {
    return this.lock.close();
  }

  /** `await using service = new LockService(lock)`: {@link close} at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** Checks a run's input (before any I/O) and returns the options for the lock's acquire. */
  #start(key: string, fn: unknown, options: WithLockOptions, kind: PrimitiveKind, names: readonly string[], what: string): AcquireOptions {
    validateKey(key);
    assertFunction(fn);
    rejectUnknownOptions(options, names, what);
    if (kind !== this.#kind) {
      throw new InvalidOptionError('lock', `${kindNames[kind]} for ${what} (this service's lock is ${kindNames[this.#kind]})`, this.lock);
    }
    return this.#acquireOptions(options);
  }

  /** Acquires (reported as a wait), then runs `fn` under the handle. */
  async #run<T>(key: string, fn: (handle: LockHandle) => Promise<T> | T, options: WithLockOptions, acquire: () => Promise<LockHandle>): Promise<T> {
    const handle = await this.#observeWait(key, performance.now(), options.signal, acquire);
    return this.#runHeld(handle, fn, options);
  }

  #acquireOptions(options: WithLockOptions): AcquireOptions {
    // `autoRenew` is the service's own: lock()/tryLock() reject names they do not know.
    const { autoRenew: _autoRenew, ...o }: AcquireOptions & { autoRenew?: boolean } = options;
    if (o.ttl === undefined && this.#ttl !== undefined) o.ttl = this.#ttl;
    return o;
  }

  async #runHeld<T>(handle: LockHandle, fn: (handle: LockHandle) => Promise<T> | T, options: WithLockOptions): Promise<T> {
    const heldSince = performance.now();
    const stopRenew = (options.autoRenew ?? this.#autoRenew) ? this.autoRenew(handle) : undefined;
    const onAbort = () => {
      const reason: unknown = handle.signal.reason;
      if (reason instanceof LockLostError) this.#reportLost(reason, handle, heldSince);
      else this.#emit({ type: 'released', key: handle.key, backend: this.lock.backend, heldMs: performance.now() - heldSince });
    };
    // Following the signal costs an AbortController and an Error per release: only when a
    // loss must be reported as it happens (hook, listeners). The outcome is checked below anyway.
    const watching = this.#onLockLost !== undefined || this.events.active;
    if (watching) handle.signal.addEventListener('abort', onAbort, { once: true });
    let outcome = await settle(fn, handle);
    stopRenew?.();
    let lost: LockLostError | undefined;
    // A coalesced turn is always ended through the coalescing lock, lost or not: that frees the
    // local key for the next caller.
    if (handle.held || this.#coalescing !== undefined) {
      try {
        await this.#release(handle);
      } catch (error) {
        // Not held any more: the signal carries the LockLostError reported below.
        if (error instanceof LockNotHeldError) lost = lostReason(handle);
        else if (outcome.ok) outcome = { ok: false, error };
      }
    } else {
      lost = lostReason(handle);
    }
    if (watching && !handle.signal.aborted) handle.signal.removeEventListener('abort', onAbort);
    if (!outcome.ok) throw outcome.error;
    if (lost !== undefined) throw lost;
    return outcome.value;
  }

  /** Gives `handle` back to the primitive it came from. */
  #release(handle: LockHandle): Promise<void> {
    if (this.#coalescing !== undefined) return this.#coalescing.unlock(handle);
    if (this.#kind === 'election') return handle.release();
    return this.#kind === 'semaphore' ? (this.lock as DistributedSemaphore).release(handle) : (this.lock as DistributedLock | DistributedRWLock).unlock(handle);
  }

  /** Reports a loss: `lost` event and the `onLockLost` hook. */
  #reportLost(error: LockLostError, handle: LockHandle, heldSince: number): void {
    this.#emit({ type: 'lost', key: handle.key, backend: this.lock.backend, heldMs: performance.now() - heldSince, error });
    if (this.#onLockLost) {
      try {
        this.#onLockLost(error, handle);
      } catch {
        // A throwing hook must not turn into an unhandled rejection; the loss is still reported.
      }
    }
  }
}

function assertFunction(fn: unknown): void {
  if (typeof fn !== 'function') throw new InvalidOptionError('fn', 'a function', fn);
}

/** What a `LockService` can run functions under. */
export type LockPrimitive = DistributedLock | DistributedRWLock | DistributedSemaphore | Election;

/** Which of the primitives a lock is (`LockManager` keeps one of each per name). */
export type PrimitiveKind = 'mutex' | 'rw' | 'semaphore' | 'election';

const kindNames: Record<PrimitiveKind, string> = {
  mutex: 'a DistributedLock',
  rw: 'a DistributedRWLock',
  semaphore: 'a DistributedSemaphore',
  election: 'an Election',
};

/** Which primitive `lock` is (checked once, at the boundary: plain JavaScript passes anything). */
export function primitiveKind(lock: unknown): PrimitiveKind {
  const l = lock as Record<string, unknown> | null;
  if (typeof l === 'object' && l !== null) {
    if (typeof l.lock === 'function' && typeof l.unlock === 'function') return 'mutex';
    if (typeof l.readLock === 'function' && typeof l.writeLock === 'function') return 'rw';
    if (typeof l.acquire === 'function' && typeof l.release === 'function') return 'semaphore';
    if (typeof l.campaign === 'function' && typeof l.leader === 'function') return 'election';
  }
  throw new InvalidOptionError('lock', 'a DistributedLock, DistributedRWLock, DistributedSemaphore or Election', lock);
}
