import { InvalidOptionError, LockAcquireTimeoutError, LockLostError, LockNotHeldError } from './errors.js';
import { LockEvents, type LockEvent } from './lock-events.js';
import {
  localOptions,
  lockServiceOptionNames,
  parseCoalesce,
  withLockOptionNames,
  type LockServiceOptions,
  type TryWithLockResult,
  type WithLockOptions,
} from './lock-service-options.js';
import { KeyedMutex } from './local/keyed-mutex.js';
import { LeaseView, SharedLease, type HandOverLimits, type LeaseRequest } from './local/shared-lease.js';
import { MemoryLock } from './memory/memory-lock.js';
import { renewOnTimer } from './renew-timer.js';
import { acquiredEvent, lostReason, settle } from './run-outcome.js';
import { abortableDelay } from './sleep.js';
import type { AcquireOptions, DistributedLock, LockHandle, LockInfo, RenewObserver } from './types.js';
import { rejectUnknownOptions, validateCount, validateKey, validateTtl, validateWaitTimeout } from './validate.js';

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
export class LockService implements AsyncDisposable {
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
  /** Hand-over bounds when coalescing hands locks over; `undefined` otherwise. */
  readonly #handOver: HandOverLimits | undefined;
  /** Leases handed over and not yet picked up by the woken local waiter (never across an await). */
  readonly #parked = new Map<string, SharedLease>();
  /** Pauses (ms) the next local caller of a key takes before acquiring: see #yieldTo. */
  readonly #yields = new Map<string, number>();
  readonly #onLockLost: LockServiceOptions['onLockLost'];
  /** The lock's `autoRenew`; for a plain-JavaScript lock written before it was part of the interface, a timer per handle. */
  readonly #renew: DistributedLock['autoRenew'];

  constructor(lock: DistributedLock = new MemoryLock(), options: LockServiceOptions = {}) {
    if (typeof lock !== 'object' || lock === null || typeof lock.lock !== 'function') {
      throw new InvalidOptionError('lock', 'a DistributedLock', lock);
    }
    this.lock = lock;
    // Decided once, at the boundary: TypeScript requires autoRenew, older JavaScript locks lack it.
    this.#renew =
      typeof lock.autoRenew === 'function' ? lock.autoRenew.bind(lock) : (handle, observer) => renewOnTimer(lock, handle, observer);
    rejectUnknownOptions(options, lockServiceOptionNames, 'new LockService()');
    this.#ttl = options.ttl === undefined ? undefined : validateTtl(options.ttl);
    this.#autoRenew = options.autoRenew ?? true;
    const coalesce = parseCoalesce(options.coalesce);
    this.#local = coalesce === undefined ? undefined : new KeyedMutex();
    this.#handOver = coalesce?.handOver ? coalesce : undefined;
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
    rejectUnknownOptions(options, withLockOptionNames, 'withLock()');
    const started = performance.now();
    const local = this.#local;
    if (local === undefined) {
      const handle = await this.#observeWait(key, started, options.signal, () =>
        this.lock.lock(key, this.#acquireOptions(options)),
      );
      return this.#runHeld(handle, fn, options);
    }
    let releaseLocal: (() => void) | undefined;
    try {
      const handle = await this.#observeWait(key, started, options.signal, async () => {
        releaseLocal = await local.acquire(key, localOptions(options));
        if (this.#handOver === undefined) return this.lock.lock(key, this.#acquireOptions(options, started));
        return this.#takeLease(key, options, started);
      });
      if (handle instanceof LeaseView) return await this.#runTurn(handle, fn, releaseLocal!);
      return await this.#runHeld(handle, fn, options);
    } finally {
      // A no-op when the turn already handed the key (and the lock) to the next local caller.
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
    rejectUnknownOptions(options, withLockOptionNames, 'tryWithLock()');
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
      if (this.#handOver !== undefined && releaseLocal !== undefined) {
        const view = this.#newLease(handle, this.#leaseRequest(options)).open();
        return { acquired: true, value: await this.#runTurn(view, fn, releaseLocal) };
      }
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
   * Renews `handle` at ttl/3 until it is released or lost, or the returned function is called
   * (the lock's own `autoRenew`, with the service's `renewed`/`renew-failed` events).
   */
  autoRenew(handle: LockHandle): () => void {
    if (handle instanceof LeaseView) {
      // A coalesced caller's handle: the service already renews its lease when it was asked to.
      if (!handle.held || handle.lease.stopRenew !== undefined) return () => {};
      handle = handle.lease.backend;
    }
    return this.#renew(handle, this.#renewObserver(performance.now()));
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

  #acquireOptions(options: WithLockOptions, startedAt?: number): AcquireOptions {
    // `autoRenew` is the service's own: lock()/tryLock() reject names they do not know.
    const { autoRenew: _autoRenew, ...o }: AcquireOptions & { autoRenew?: boolean } = options;
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
    if (handle.held) {
      try {
        await this.lock.unlock(handle);
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

  /** What a coalesced caller asks of its lock (a lease is handed over only to an equal ask). */
  #leaseRequest(options: WithLockOptions): LeaseRequest {
    return { ttl: options.ttl ?? this.#ttl, autoRenew: options.autoRenew ?? this.#autoRenew };
  }

  /**
   * For the local caller that was just given `key`: the lease its predecessor handed over, or a
   * lock of its own from the backend. A handed-over lease that does not suit this caller (other
   * ttl or autoRenew, or this caller gave up) is released first.
   */
  async #takeLease(key: string, options: WithLockOptions, started: number): Promise<LeaseView> {
    const request = this.#leaseRequest(options);
    const parked = this.#parked.get(key);
    if (parked !== undefined) {
      this.#parked.delete(key);
      if (!options.signal?.aborted && parked.suits(request)) return parked.open();
      // Its release error, if any, is the backend's: the acquire below meets and reports it.
      await parked.end().catch(() => undefined);
    }
    const pause = this.#yields.get(key);
    if (pause !== undefined) {
      this.#yields.delete(key);
      const left = options.waitTimeout === undefined ? Infinity : options.waitTimeout - (performance.now() - started);
      await abortableDelay(Math.min(pause, Math.max(0, left)), options.signal);
    }
    const handle = await this.lock.lock(key, this.#acquireOptions(options, started));
    return this.#newLease(handle, request).open();
  }

  /**
   * After a run of hand-overs ended at its bound, with local callers still queued: a waiter in
   * another process hears of the release about a round trip later than our next caller would try
   * again, so without a pause this process would take the key right back, run after run. The
   * next local caller waits twice the release's round trip (1-20 ms) before acquiring.
   */
  #yieldTo(key: string, releaseMs: number, releaseLocal: () => void): void {
    this.#yields.set(key, Math.min(MAX_YIELD_MS, Math.max(1, 2 * releaseMs)));
    releaseLocal(); // the next local caller picks the pause up in #takeLease
    if (!this.#local!.isLocked(key)) this.#yields.delete(key); // nobody was left to take it
  }

  #newLease(handle: LockHandle, request: LeaseRequest): SharedLease {
    const lease = new SharedLease(handle, request, this.lock, (error, view) => this.#reportLost(error, view, view.since));
    if (request.autoRenew) lease.stopRenew = this.autoRenew(handle);
    if (this.#onLockLost !== undefined || this.events.active) lease.watchLoss();
    return lease;
  }

  /**
   * Runs one coalesced caller's turn on a lease; at its end the lease is handed to the next
   * local caller (see {@link CoalesceOptions}) or released at the backend.
   */
  async #runTurn<T>(view: LeaseView, fn: (handle: LockHandle) => Promise<T> | T, releaseLocal: () => void): Promise<T> {
    const lease = view.lease;
    let outcome = await settle(fn, view);
    const lostNow = lease.lostError();
    if (lostNow !== undefined) view.finish(lostNow);
    if (!view.ended && !this.#passOn(view, releaseLocal)) {
      const bounded = this.#local!.waiting(view.key) > 0 && lease.exhausted(this.#handOver!, performance.now());
      const releaseStarted = performance.now();
      try {
        await lease.end();
      } catch (error) {
        if (outcome.ok && !(error instanceof LockNotHeldError)) outcome = { ok: false, error };
      }
      view.finish(lease.lostError() ?? 'released');
      if (bounded) this.#yieldTo(view.key, performance.now() - releaseStarted, releaseLocal);
    } else if (lease.current === undefined && !this.#parked.has(view.key)) {
      // Lost, or released by fn itself: stop renewing (unlocks only if still held).
      await lease.end().catch(() => undefined);
    }
    const lost = view.lostError;
    if (lost !== undefined) this.#reportLost(lost, view, view.since);
    else if (this.events.active) {
      this.#emit({ type: 'released', key: view.key, backend: this.lock.backend, heldMs: performance.now() - view.since });
    }
    if (!outcome.ok) throw outcome.error;
    if (lost !== undefined) throw lost;
    return outcome.value;
  }

  /**
   * Hands the lease of the turn that just ended to the oldest local waiter, if one is queued and
   * the lease may be handed over. Synchronous from the check to the hand-off, so the waiter
   * cannot leave in between and strand the lease.
   */
  #passOn(view: LeaseView, releaseLocal: () => void): boolean {
    const lease = view.lease;
    const local = this.#local!;
    if (local.waiting(view.key) === 0 || !lease.mayHandOver(this.#handOver!, performance.now())) return false;
    this.#parked.set(view.key, lease);
    releaseLocal(); // the oldest waiter now owns the key and picks the lease up in #takeLease
    if (!local.isLocked(view.key)) {
      this.#parked.delete(view.key); // unreachable with KeyedMutex's direct hand-off; never strand a lease
      return false;
    }
    lease.handOvers++;
    view.finish('released');
    return true;
  }

  /** Reports a loss once: `lost` event and the `onLockLost` hook. */
  #reportLost(error: LockLostError, handle: LockHandle, heldSince: number): void {
    if (handle instanceof LeaseView) {
      if (handle.lossReported) return;
      handle.lossReported = true;
    }
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

/** Longest pause a process takes to let other processes have a bounded-out key (see #yieldTo). */
const MAX_YIELD_MS = 20;

function assertFunction(fn: unknown): void {
  if (typeof fn !== 'function') throw new InvalidOptionError('fn', 'a function', fn);
}
