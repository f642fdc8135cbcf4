import type { BaseLock, RenewObserver } from './base-lock.js';
import { InvalidOptionError, LockAcquireTimeoutError, LockLostError, LockNotHeldError } from './errors.js';
import { LockEvents, type LockEvent } from './lock-events.js';
import { KeyedMutex } from './local/keyed-mutex.js';
import { MemoryLock } from './memory/memory-lock.js';
import type { AcquireOptions, DistributedLock, LockHandle, LockInfo } from './types.js';
import { validateKey, validateTtl } from './validate.js';

/** Options of {@link LockService}. */
export interface LockServiceOptions {
  /**
   * TTL for locks taken through the service when a call gives none, in ms.
   * @default the lock instance's default (30_000)
   */
  ttl?: number;
  /**
   * Renew locks held by `withLock`/`tryWithLock` at ttl/3 while the function runs.
   * @default true
   */
  autoRenew?: boolean;
  /**
   * Queue same-key callers of this process locally, so only one of them at a time talks to the
   * backend (fewer round trips and wake-ups under contention in one process).
   * @default false
   */
  coalesce?: boolean;
  /** Called when a lock held through the service is lost (lease expired, key taken away). */
  onLockLost?: (error: LockLostError, handle: LockHandle) => void;
  /** Called with every {@link LockEvent}; the same as `service.events.on('*', onEvent)`. */
  onEvent?: (event: LockEvent) => void;
}

/** Options of one `withLock`/`tryWithLock` call. */
export interface WithLockOptions extends AcquireOptions {
  /** Overrides the service's `autoRenew` for this call. */
  autoRenew?: boolean;
}

/** What `tryWithLock` resolves to. */
export type TryWithLockResult<T> = { acquired: true; value: T } | { acquired: false };

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
export class LockService {
  readonly lock: DistributedLock;
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
  readonly #local: KeyedMutex | undefined;
  readonly #onLockLost: LockServiceOptions['onLockLost'];

  constructor(lock: DistributedLock = new MemoryLock(), options: LockServiceOptions = {}) {
    if (typeof lock !== 'object' || lock === null || typeof lock.lock !== 'function') {
      throw new InvalidOptionError('lock', 'a DistributedLock', lock);
    }
    this.lock = lock;
    this.#ttl = options.ttl === undefined ? undefined : validateTtl(options.ttl);
    this.#autoRenew = options.autoRenew ?? true;
    this.#local = options.coalesce ? new KeyedMutex() : undefined;
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
  async withLock<T>(key: string, fn: (handle: LockHandle) => Promise<T> | T, options: WithLockOptions = {}): Promise<T> {
    validateKey(key);
    assertFunction(fn);
    const started = performance.now();
    let releaseLocal: (() => void) | undefined;
    try {
      const handle = await this.#observeWait(key, started, options.signal, async () => {
        releaseLocal = await this.#local?.acquire(key, localOptions(options));
        return this.lock.lock(key, this.#acquireOptions(options, started));
      });
      return await this.#runHeld(handle, fn, options);
    } finally {
      releaseLocal?.();
    }
  }

  /** One attempt: runs `fn` only if `key` was free. `fn` is not called otherwise. */
  async tryWithLock<T>(
    key: string,
    fn: (handle: LockHandle) => Promise<T> | T,
    options: WithLockOptions = {},
  ): Promise<TryWithLockResult<T>> {
    validateKey(key);
    assertFunction(fn);
    let releaseLocal: (() => void) | undefined;
    if (this.#local) {
      const release = this.#local.tryAcquire(key);
      if (release === null) return { acquired: false };
      releaseLocal = release;
    }
    try {
      const handle = await this.#observeWait(key, performance.now(), options.signal, () =>
        this.lock.tryLock(key, this.#acquireOptions(options)),
      );
      if (handle === null) return { acquired: false };
      return { acquired: true, value: await this.#runHeld(handle, fn, options) };
    } finally {
      releaseLocal?.();
    }
  }

  /** Holder, remaining TTL and fencing token of `key`, or `null` if free. */
  getLockInfo(key: string): Promise<LockInfo | null> {
    return this.lock.inspect(key);
  }

  isLocked(key: string): Promise<boolean> {
    return this.lock.isLocked(key);
  }

  /**
   * Renews `handle` at ttl/3 until it is released or lost, or the returned function is called.
   * Over a dlock backend the renewals of all handles are batched; over any other
   * `DistributedLock` each handle gets its own timer.
   */
  autoRenew(handle: LockHandle): () => void {
    const batched = this.lock as Partial<Pick<BaseLock, 'autoRenew'>>;
    const observer = this.#renewObserver(performance.now());
    if (typeof batched.autoRenew === 'function') return batched.autoRenew.call(this.lock, handle, observer);
    return renewEachOnItsOwn(this.lock, handle, observer);
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
      if (handle !== null) this.#emit({ type: 'acquired', key, backend, fencingToken: handle.fencingToken, waitedMs });
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

  #acquireOptions(options: WithLockOptions, startedAt?: number): AcquireOptions {
    const o: AcquireOptions = { ...options };
    if (o.ttl === undefined && this.#ttl !== undefined) o.ttl = this.#ttl;
    // Time spent queued locally counts against the caller's waitTimeout.
    if (startedAt !== undefined && this.#local && typeof o.waitTimeout === 'number' && o.waitTimeout >= 0) {
      o.waitTimeout = Math.max(0, o.waitTimeout - (performance.now() - startedAt));
    }
    return o;
  }

  async #runHeld<T>(handle: LockHandle, fn: (handle: LockHandle) => Promise<T> | T, options: WithLockOptions): Promise<T> {
    const heldSince = performance.now();
    const stopRenew = (options.autoRenew ?? this.#autoRenew) ? this.autoRenew(handle) : undefined;
    const onAbort = () => {
      const reason: unknown = handle.signal.reason;
      const heldMs = performance.now() - heldSince;
      if (!(reason instanceof LockLostError)) {
        this.#emit({ type: 'released', key: handle.key, backend: this.lock.backend, heldMs });
        return;
      }
      this.#emit({ type: 'lost', key: handle.key, backend: this.lock.backend, heldMs, error: reason });
      if (this.#onLockLost) {
        try {
          this.#onLockLost(reason, handle);
        } catch {
          // A throwing hook must not turn into an unhandled rejection; the loss is still reported.
        }
      }
    };
    handle.signal.addEventListener('abort', onAbort, { once: true });
    let outcome: { ok: true; value: T } | { ok: false; error: unknown };
    try {
      outcome = { ok: true, value: await fn(handle) };
    } catch (error) {
      outcome = { ok: false, error };
    }
    stopRenew?.();
    try {
      if (handle.held) await this.lock.unlock(handle);
    } catch (error) {
      // Not held any more: the signal carries the LockLostError reported below.
      if (outcome.ok && !(error instanceof LockNotHeldError)) outcome = { ok: false, error };
    }
    if (!handle.signal.aborted) handle.signal.removeEventListener('abort', onAbort);
    if (!outcome.ok) throw outcome.error;
    const reason: unknown = handle.signal.reason;
    if (reason instanceof LockLostError) throw reason;
    return outcome.value;
  }
}

function localOptions(options: WithLockOptions): { signal?: AbortSignal; waitTimeout?: number } {
  const o: { signal?: AbortSignal; waitTimeout?: number } = {};
  if (options.signal !== undefined) o.signal = options.signal;
  if (options.waitTimeout !== undefined) o.waitTimeout = options.waitTimeout;
  return o;
}

function assertFunction(fn: unknown): void {
  if (typeof fn !== 'function') throw new InvalidOptionError('fn', 'a function', fn);
}

/** The watchdog for a foreign `DistributedLock`: one timer per handle, renew at ttl/3. */
function renewEachOnItsOwn(lock: DistributedLock, handle: LockHandle, observer: RenewObserver): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const ttl = Math.max(3, Math.floor(handle.validUntil - performance.now()));
  const every = Math.max(1, Math.floor(ttl / 3));
  const tick = () => {
    if (stopped || !handle.held) return;
    lock.renew(handle).then(
      () => {
        observer.renewed?.(handle);
        schedule(every);
      },
      (error: unknown) => {
        if (error instanceof LockNotHeldError) return;
        observer.renewFailed?.(handle, error instanceof Error ? error : new Error(String(error)));
        schedule(Math.max(10, Math.floor(every / 3)));
      },
    );
  };
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(tick, ms);
    timer.unref();
  };
  schedule(every);
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
  };
}
