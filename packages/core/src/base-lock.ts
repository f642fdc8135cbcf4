import type { Clock } from './clock.js';
import { monotonicClock } from './clock.js';
import {
  DlockError,
  InvalidOptionError,
  LockAcquireTimeoutError,
  LockBackendError,
  LockClosedError,
  LockLostError,
  LockNotHeldError,
} from './errors.js';
import { Handle, type HeldLock } from './handle.js';
import { ReleaseWaiters, type HandOverClaim, type WaitTicket } from './release-waiters.js';
import { abortableDelay, timerDelay, withJitter } from './sleep.js';
import { newToken } from './token.js';
import type { AcquireOptions, DistributedLock, LockCapabilities, LockHandle, LockInfo } from './types.js';
import { Outage } from './outage.js';
import { defaultLockOptions, rejectUnknownOptions, resolveAcquireOptions, validateCount, validateKey, validateTtl, validateWaitTimeout } from './validate.js';
import { Watchdog, type RenewOutcome } from './watchdog.js';

/** What one acquire attempt of a backend returns. */
export type AcquireAttempt =
  /**
   * `data`: kept on the handle for release/renew. `validFrom`: monotonic time the lease counts
   * from, when it is not the moment the attempt started (a queued etcd waiter's lease).
   */
  | { acquired: true; fencingToken: bigint; data?: unknown; validFrom?: number }
  /** `retryAfter`: ms until the current holder's lease ends, or -1 when unknown. */
  | { acquired: false; retryAfter: number };

/** Told of each watchdog renewal of one handle (see `autoRenew`). Must not throw; errors are ignored. */
export interface RenewObserver {
  renewed?(handle: LockHandle): void;
  /** A renewal failed for a reason that may pass; it is retried until `validUntil`. */
  renewFailed?(handle: LockHandle, error: Error): void;
}

/** Runs an observer callback; a throwing observer must never disturb the watchdog. */
function notify(callback: () => void): void {
  try {
    callback();
  } catch {
    // ignored on purpose: observers are for metrics and logs
  }
}

/** Options every backend accepts. */
export interface BaseLockOptions {
  /**
   * TTL used when a call gives none, in ms.
   * @default 30_000
   */
  defaultTtl?: number;
  /**
   * Longest a waiter sleeps between attempts when the backend cannot say how long the holder's
   * lease has left, or when a release notification might have been missed. In ms.
   * @default 1_000
   */
  maxRetryDelay?: number;
  /** Monotonic time source (tests inject one). @default performance.now() */
  clock?: Clock;
  /**
   * For backends that can hand a held lock straight to another caller (Redis, memory): when
   * `unlock()` finds a caller of this instance waiting for the same key, the lock passes to it in
   * one step (with a new fencing token) instead of a release plus that caller's acquire. This
   * bounds how many such hand-overs of one key may follow each other before a real release gives
   * waiters in other processes their chance. `0` turns hand-overs off.
   * @default 8
   */
  maxLocalHandOvers?: number;
  /**
   * How long `lock()` without a `waitTimeout` keeps retrying while the backend fails (connection
   * refused, timeouts, a server restarting), in ms; then it rejects with the last
   * `LockBackendError`, which names the failure. Failures are retried with exponential backoff
   * (50 ms doubling up to `maxRetryDelay`); any answer from the backend starts the count again.
   * A `lock()` with a `waitTimeout` retries until that deadline instead, and its
   * `LockAcquireTimeoutError` carries the last backend error as `cause`.
   * @default 30_000
   */
  unavailableTimeout?: number;
}

/** Names of {@link BaseLockOptions}; a backend adds its own and passes them to the constructor. */
export const baseLockOptionNames: readonly string[] = Object.freeze([
  'defaultTtl',
  'maxRetryDelay',
  'clock',
  'maxLocalHandOvers',
  'unavailableTimeout',
]);

/**
 * The part of every backend that is not about the backend: validation, waiting (queued locally,
 * woken by release notifications, bounded by the holder's remaining lease, abortable), validity
 * on a monotonic clock, the lost-lock signal, the batched watchdog and close().
 *
 * A backend implements five primitives: {@link acquireOnce}, {@link releaseOnce},
 * {@link renewOnce}, {@link inspectOnce} and, for prompt wake-ups, calls
 * {@link notifyReleased} when it learns a key was released (subscribing in
 * {@link watchReleases}).
 */
export abstract class BaseLock implements DistributedLock, AsyncDisposable {
  abstract readonly backend: string;
  abstract readonly capabilities: LockCapabilities;

  protected readonly clock: Clock;
  protected readonly defaultTtl: number;
  protected readonly maxRetryDelay: number;
  protected readonly maxLocalHandOvers: number;
  protected readonly unavailableTimeout: number;

  readonly #held = new Set<Handle>();
  /** Per held handle, its expiry timer and the validUntil it was set for. */
  readonly #expiry = new Map<Handle, { timer: NodeJS.Timeout; at: number }>();
  readonly #waiters = new ReleaseWaiters();
  readonly #watching = new Map<string, number>();
  /** Keys whose last waiter left recently: still subscribed until the timer fires (see #unwatch). */
  readonly #lingering = new Map<string, NodeJS.Timeout>();
  readonly #watchdog: Watchdog;
  readonly #observers = new Map<Handle, RenewObserver>();
  #closed: Promise<void> | undefined;

  /**
   * @param known the backend's own option names and how its constructor reads in messages: a
   *   misspelt option (`{ defaultTTL: 5000 }`) is an `InvalidOptionError` naming the closest one.
   */
  protected constructor(options: BaseLockOptions = {}, known?: { names: readonly string[]; what: string }) {
    if (typeof options !== 'object' || options === null) {
      throw new InvalidOptionError('options', 'an object or undefined', options);
    }
    if (known !== undefined) rejectUnknownOptions(options, [...baseLockOptionNames, ...known.names], known.what);
    this.defaultTtl =
      options.defaultTtl === undefined ? defaultLockOptions.ttl : validateTtl(options.defaultTtl, 'defaultTtl');
    this.maxRetryDelay =
      options.maxRetryDelay === undefined ? 1_000 : validateTtl(options.maxRetryDelay, 'maxRetryDelay');
    this.maxLocalHandOvers =
      options.maxLocalHandOvers === undefined ? 8 : validateCount(options.maxLocalHandOvers, 'maxLocalHandOvers');
    this.unavailableTimeout =
      options.unavailableTimeout === undefined
        ? 30_000
        : validateWaitTimeout(options.unavailableTimeout, 'unavailableTimeout');
    this.clock = options.clock ?? monotonicClock;
    this.#watchdog = new Watchdog((handles) => this.#renewHandles(handles), this.clock);
  }

  // ---- primitives a backend supplies -------------------------------------------------------

  /** One attempt to take `key` for `token` with a lease of `ttl` ms. */
  protected abstract acquireOnce(key: string, token: string, ttl: number): Promise<AcquireAttempt>;
  /** Owner-checked release: `true` if it was ours and is now deleted, `false` if not ours. */
  protected abstract releaseOnce(lock: HeldLock): Promise<boolean>;
  /** Owner-checked extension to `ttl` ms: `true` if still ours, `false` if lost. */
  protected abstract renewOnce(lock: HeldLock, ttl: number): Promise<boolean>;
  /** The current holder of `key`, or `null`. */
  protected abstract inspectOnce(key: string): Promise<LockInfo | null>;

  /**
   * Optional: a backend with a native wait queue (etcd's revision-ordered mutex) implements this,
   * and `lock()` calls it instead of its own retry loop. It waits until acquired, `deadline`
   * (monotonic ms; then it returns `{ acquired: false }` having cleaned up) or `signal` aborts
   * (then it rejects with `signal.reason`, having cleaned up).
   */
  protected acquireQueued?(
    key: string,
    token: string,
    ttl: number,
    wait: { deadline: number; signal: AbortSignal | undefined },
  ): Promise<AcquireAttempt>;

  /**
   * Optional: hands `lock` straight to `token` (a waiter of this instance) in one atomic step: if
   * `lock` is still held by its token, `token` becomes the holder with a lease of `ttl` ms and a
   * new, higher fencing token; otherwise nothing changes and the result is `{ acquired: false }`.
   * Other processes' waiters are not woken (the key stays taken).
   */
  protected transferOnce?(lock: HeldLock, token: string, ttl: number): Promise<AcquireAttempt>;

  /** Renews many locks at once (a backend overrides this to pipeline). One result per lock. */
  protected async renewManyOnce(locks: readonly HeldLock[]): Promise<Array<boolean | Error>> {
    return Promise.all(
      locks.map((l) =>
        this.renewOnce(l, l.ttl).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e)))),
      ),
    );
  }

  /** Start observing releases of `key` (resolve once observing); called before a waiter sleeps. */
  protected watchReleases(_key: string): Promise<void> | void {}
  /** Stop observing releases of `key`; called when its last waiter leaves. */
  protected unwatchReleases(_key: string): void {}
  /** Free backend resources (connections) at close(), after held locks were released. */
  protected closeBackend(): Promise<void> | void {}

  /** When the lock is surely held until, for an acquire that started at `startedAt`. */
  protected validUntil(startedAt: number, ttl: number): number {
    return startedAt + ttl;
  }

  /** A backend calls this when it learns `key` was released: the next local waiter retries. */
  protected notifyReleased(key: string): void {
    this.#waiters.notify(key);
  }

  /**
   * A backend calls this when it learns a held lock is gone (key deleted, lease revoked).
   * Fires `handle.signal` with `LockLostError`.
   */
  protected reportLost(lock: HeldLock, reason: string, cause?: unknown): void {
    const handle = lock as Handle;
    if (!this.#held.has(handle)) return;
    this.#forget(handle);
    handle.markLost(new LockLostError(handle.key, reason, { backend: this.backend, cause }));
  }

  /** Handles this instance holds now. */
  protected heldLocks(): readonly HeldLock[] {
    return [...this.#held];
  }

  // ---- the public API ----------------------------------------------------------------------

  async tryLock(key: string, options?: AcquireOptions): Promise<LockHandle | null> {
    validateKey(key);
    const o = resolveAcquireOptions(options, this.defaultTtl);
    this.#assertOpen('tryLock', key);
    o.signal?.throwIfAborted();
    const attempt = await this.#attempt(key, newToken(), o.ttl, o.signal);
    return attempt instanceof Handle ? attempt : null;
  }

  async lock(key: string, options?: AcquireOptions): Promise<LockHandle> {
    validateKey(key);
    const o = resolveAcquireOptions(options, this.defaultTtl);
    this.#assertOpen('lock', key);
    o.signal?.throwIfAborted();
    const deadline = o.waitTimeout === undefined ? Infinity : this.clock.now() + o.waitTimeout;
    const token = newToken();
    if (this.acquireQueued !== undefined) return this.#lockQueued(key, token, o.ttl, deadline, o);

    // Fairness inside one process: a newcomer does not barge past waiters already queued here.
    let tryNow = this.#waiters.queued(key) === 0;
    const outage = this.#outage(o.waitTimeout);
    let ticket: WaitTicket | undefined;
    let watching = false;
    let acquired = false;
    try {
      for (;;) {
        let nap = this.maxRetryDelay;
        if (tryNow) {
          o.signal?.throwIfAborted();
          if (ticket) ticket.woken = false;
          try {
            const attempt = await this.#attempt(key, token, o.ttl, o.signal);
            if (attempt instanceof Handle) {
              acquired = true;
              return attempt;
            }
            outage.clear();
            if (attempt.retryAfter >= 0) nap = withJitter(attempt.retryAfter + 1);
          } catch (error) {
            nap = this.#backOff(outage, error, key);
          }
        }
        if (ticket === undefined) {
          ticket = this.#waiters.enqueue(key);
          ticket.offer = { token, ttl: o.ttl };
        }
        // Subscribe once the backend answers: during an outage the subscription would only fail too.
        if (!watching && !outage.active) {
          try {
            await this.#watch(key);
            watching = true;
            // A release between our attempt and the subscription would go unseen: try once more.
            if (tryNow && !outage.active) continue;
          } catch (error) {
            nap = Math.min(nap, this.#backOff(outage, error, key));
          }
        }
        const left = deadline - this.clock.now();
        if (left <= 0) {
          throw new LockAcquireTimeoutError(key, o.waitTimeout ?? 0, { backend: this.backend, cause: outage.lastError });
        }
        // close() wakes sleepers once: one that closed while this waiter was busy (attempting,
        // subscribing) must not put it to sleep for a whole lease afterwards.
        this.#assertOpen('lock', key);
        await ticket.sleep(Math.min(nap, left), o.signal);
        const granted = await ticket.takeGrant<Handle>();
        if (granted !== null) {
          if (o.signal?.aborted) {
            await this.unlock(granted).catch(() => undefined);
            throw o.signal.reason;
          }
          acquired = true;
          return granted;
        }
        this.#assertOpen('lock', key);
        tryNow = true;
      }
    } finally {
      if (ticket !== undefined) {
        ticket.leave(acquired);
        if (watching) this.#unwatch(key);
      }
    }
  }

  async unlock(handle: LockHandle): Promise<void> {
    const h = this.#own(handle);
    this.#assertOpen('unlock', h.key);
    if (h.state === 'released') throw new LockNotHeldError(h.key, 'it was already released', { backend: this.backend });
    // Reported lost already (the expiry path also gave the key back): the truth needs no I/O,
    // and a release latch that expiry path left must not make it look released.
    if (h.state === 'lost') throw new LockNotHeldError(h.key, 'it was lost before release', { backend: this.backend, cause: h.signal.reason });
    // Stop renewing first: a release that fails midway must not leave the watchdog extending
    // a lock its owner asked to give up (it then simply expires).
    this.#watchdog.remove(h);
    const claim = this.#claimWaiter(h);
    let released: boolean;
    try {
      released = claim === undefined ? await this.releaseOnce(h) : await this.#handOver(h, claim);
    } catch (error) {
      throw this.wrapError('release', h.key, error);
    }
    this.#forget(h);
    if (released) {
      // Waiters (here and elsewhere) learn of it from the backend's notification.
      h.markReleased();
      return;
    }
    h.markLost(new LockLostError(h.key, 'it was no longer held when released', { backend: this.backend }));
    throw new LockNotHeldError(h.key, 'it expired or was taken over before release', { backend: this.backend });
  }

  async renew(handle: LockHandle, ttl?: number): Promise<void> {
    const h = this.#own(handle);
    const newTtl = ttl === undefined ? h.ttl : validateTtl(ttl);
    this.#assertOpen('renew', h.key);
    if (!h.held) {
      throw new LockNotHeldError(h.key, h.state === 'released' ? 'it was released' : 'it was lost', {
        backend: this.backend,
      });
    }
    const startedAt = this.clock.now();
    let renewed: boolean;
    try {
      renewed = await this.renewOnce(h, newTtl);
    } catch (error) {
      throw this.wrapError('renew', h.key, error);
    }
    if (!renewed) {
      this.reportLost(h, 'renewal found the lock gone');
      throw new LockNotHeldError(h.key, 'it expired or was taken over', { backend: this.backend });
    }
    this.#refresh(h, newTtl, startedAt);
  }

  async isLocked(key: string): Promise<boolean> {
    return (await this.inspect(key)) !== null;
  }

  async inspect(key: string): Promise<LockInfo | null> {
    validateKey(key);
    this.#assertOpen('inspect', key);
    try {
      return await this.inspectOnce(key);
    } catch (error) {
      throw this.wrapError('inspect', key, error);
    }
  }

  /**
   * Keeps `handle` alive by renewing it at ttl/3 (batched with every other handle of this
   * instance) until released, lost, or the returned function is called.
   */
  autoRenew(handle: LockHandle, observer?: RenewObserver): () => void {
    const h = this.#own(handle);
    if (!h.held) return () => {};
    if (observer !== undefined) this.#observers.set(h, observer);
    const stop = this.#watchdog.add(h);
    return () => {
      this.#observers.delete(h);
      stop();
    };
  }

  /** Releases what this instance holds (best effort), wakes and fails its waiters, stops timers. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  /**
   * `await using lock = new RedisLock(url)`: {@link close} at the end of the block. A lock
   * instance holds connections that keep the process alive until it is closed.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.#watchdog.stop();
    for (const [key, timer] of this.#lingering) {
      clearTimeout(timer);
      this.#stopWatching(key);
    }
    this.#lingering.clear();
    this.#waiters.wakeAll();
    const held = [...this.#held];
    await Promise.allSettled(
      held.map(async (h) => {
        this.#forget(h);
        try {
          await this.releaseOnce(h);
        } finally {
          h.markReleased();
        }
      }),
    );
    await this.closeBackend();
  }

  // ---- internals ---------------------------------------------------------------------------

  /** A local waiter to hand `h` to, if the backend can and this run of hand-overs may go on. */
  #claimWaiter(h: Handle): HandOverClaim<Handle> | undefined {
    if (this.transferOnce === undefined || h.handOvers >= this.maxLocalHandOvers) return undefined;
    return this.#waiters.claim<Handle>(h.key);
  }

  /**
   * unlock() by handing the lock to the claimed waiter: `true` when `h` was still ours (it is now
   * the waiter's, or released if the waiter cannot take it), `false` when `h` was lost. The
   * waiter gets the new handle, or `null` and tries by itself.
   */
  async #handOver(h: Handle, claim: HandOverClaim<Handle>): Promise<boolean> {
    const { token, ttl } = claim.offer;
    const startedAt = this.clock.now(); // the new holder's validity counts from before the request
    let result: AcquireAttempt;
    try {
      result = await this.transferOnce!(h, token, ttl);
    } catch (error) {
      claim.settle(null);
      throw error;
    }
    if (!result.acquired) {
      claim.settle(null);
      return false;
    }
    const next = new Handle(this, h.key, token, result.fencingToken, ttl, this.validUntil(result.validFrom ?? startedAt, ttl), result.data);
    next.handOvers = h.handOvers + 1;
    if (claim.ticket.left || this.closed || next.validUntil <= this.clock.now()) {
      // Nobody to take it (or its lease is already over): a real release, which wakes the next waiter.
      await this.releaseOnce(next).catch(() => false);
      next.markReleased();
      claim.settle(null);
      return true;
    }
    this.#held.add(next);
    this.#armExpiry(next);
    claim.settle(next);
    return true;
  }

  async #lockQueued(
    key: string,
    token: string,
    ttl: number,
    deadline: number,
    o: { waitTimeout: number | undefined; signal: AbortSignal | undefined },
  ): Promise<Handle> {
    const outage = this.#outage(o.waitTimeout);
    for (;;) {
      const startedAt = this.clock.now();
      let result: AcquireAttempt | undefined;
      try {
        result = await this.acquireQueued!(key, token, ttl, { deadline, signal: o.signal });
        outage.clear();
      } catch (error) {
        if (o.signal?.aborted && error === o.signal.reason) throw error;
        const nap = this.#backOff(outage, this.wrapError('acquire', key, error), key);
        const left = deadline - this.clock.now();
        this.#assertOpen('lock', key);
        if (left > 0) await abortableDelay(Math.min(nap, left), o.signal);
        this.#assertOpen('lock', key);
      }
      if (result !== undefined) {
        if (!result.acquired) break;
        const handle = await this.#adopt(key, token, ttl, startedAt, result, o.signal);
        if (handle !== null) return handle;
        this.#backOff(outage, this.#lateAnswer(key, ttl, startedAt), key); // queued again at once
      }
      if (this.clock.now() >= deadline) break;
    }
    throw new LockAcquireTimeoutError(key, o.waitTimeout ?? 0, { backend: this.backend, cause: outage.lastError });
  }

  /** The failure bookkeeping of one `lock()` call (see {@link BaseLockOptions.unavailableTimeout}). */
  #outage(waitTimeout: number | undefined): Outage {
    return new Outage(this.clock, this.maxRetryDelay, waitTimeout === undefined ? this.unavailableTimeout : Infinity);
  }

  /**
   * A `lock()` attempt failed: how long to wait before the next one. Rethrows what waiting
   * cannot cure (abort, close, bad input, a permanent backend error), and the last backend
   * error once the backend has been failing for `unavailableTimeout`.
   */
  #backOff(outage: Outage, error: unknown, key: string): number {
    // Closed while the attempt (or the subscription) was under way: the backend error is only the
    // closing connection; the truth is that the lock was closed.
    if (error instanceof LockBackendError && this.closed) throw new LockClosedError(`${this.backend} lock`, 'lock', key);
    if (!(error instanceof LockBackendError) || !this.isTransientError(error.cause ?? error)) throw error;
    const delay = outage.failed(error);
    if (delay !== undefined) return delay;
    throw new LockBackendError(this.backend, `lock() (unavailable for ${Math.round(outage.lasted)} ms, ${outage.failures} attempts)`, {
      key,
      cause: error.cause ?? error,
    });
  }

  /**
   * Whether a backend failure (the client library's error, the `cause` of a `LockBackendError`)
   * may pass, so that a waiting `lock()` retries it. A backend overrides this to fail fast on
   * errors that waiting cannot cure (a refused password, a wrong command).
   */
  protected isTransientError(_error: unknown): boolean {
    return true;
  }

  /** One attempt; a held handle, or how long the current holder's lease has left. */
  async #attempt(
    key: string,
    token: string,
    ttl: number,
    signal: AbortSignal | undefined,
  ): Promise<Handle | { retryAfter: number }> {
    const startedAt = this.clock.now(); // validity counts from before the request is sent
    let result: AcquireAttempt;
    try {
      result = await this.acquireOnce(key, token, ttl);
    } catch (error) {
      throw this.wrapError('acquire', key, error);
    }
    if (!result.acquired) return { retryAfter: result.retryAfter };
    const handle = await this.#adopt(key, token, ttl, startedAt, result, signal);
    if (handle !== null) return handle;
    throw this.#lateAnswer(key, ttl, startedAt);
  }

  /**
   * An acquire whose answer came after its lease had run out: the key was free, so "held by
   * someone else" would be a lie; the lock was given back and the failure is the backend's
   * slowness (`lock()` retries it like any backend failure).
   */
  #lateAnswer(key: string, ttl: number, startedAt: number): LockBackendError {
    const took = Math.round(this.clock.now() - startedAt);
    return new LockBackendError(this.backend, 'acquire', {
      key,
      cause: new Error(
        `the lock was acquired, but the answer came ${took} ms after the request, when its ${ttl} ms lease had ` +
          'already run out; it was given back (use a longer ttl, or find why the backend is slow)',
      ),
    });
  }

  /**
   * Turns a successful acquire into a tracked handle, or gives it back if aborted or closed
   * meanwhile. `null` when the answer came so late that the lease is already over: such a
   * "lock" was never surely held, so it is released and the caller tries again.
   */
  async #adopt(
    key: string,
    token: string,
    ttl: number,
    startedAt: number,
    result: AcquireAttempt & { acquired: true },
    signal: AbortSignal | undefined,
  ): Promise<Handle | null> {
    const validUntil = this.validUntil(result.validFrom ?? startedAt, ttl);
    const handle = new Handle(this, key, token, result.fencingToken, ttl, validUntil, result.data);
    if (validUntil <= this.clock.now() && !this.closed && !signal?.aborted) {
      await this.releaseOnce(handle).catch(() => false);
      handle.markReleased();
      return null;
    }
    if (this.closed || signal?.aborted) {
      // Aborted or closed while the request was in flight: give the lock back, leave no trace.
      await this.releaseOnce(handle).catch(() => false);
      handle.markReleased();
      if (signal?.aborted) throw signal.reason;
      throw new LockClosedError(`${this.backend} lock`, 'lock', key);
    }
    this.#held.add(handle);
    this.#armExpiry(handle);
    return handle;
  }

  async #renewHandles(handles: Handle[]): Promise<RenewOutcome[]> {
    const startedAt = this.clock.now();
    let results: Array<boolean | Error>;
    try {
      results = await this.renewManyOnce(handles);
    } catch (error) {
      results = handles.map(() => (error instanceof Error ? error : new Error(String(error))));
    }
    return handles.map((h, i) => {
      const r = results[i] ?? new Error('no renewal result');
      const observer = this.#observers.get(h);
      if (r === true) {
        if (h.held) this.#refresh(h, h.ttl, startedAt);
        notify(() => observer?.renewed?.(h));
        return 'renewed';
      }
      if (r === false) {
        this.reportLost(h, 'the watchdog found the lock gone');
        return 'lost';
      }
      // Transient: retried until validUntil; the expiry timer decides loss.
      notify(() => observer?.renewFailed?.(h, this.wrapError('renew', h.key, r)));
      return 'error';
    });
  }

  #refresh(h: Handle, ttl: number, startedAt: number): void {
    h.refresh(ttl, this.validUntil(startedAt, ttl));
    this.#armExpiry(h);
  }

  /**
   * Past `validUntil` without a renewal the lock may belong to someone else: report it lost.
   *
   * A renewal that moves `validUntil` later keeps the timer: when it fires it sees the new
   * deadline and waits again. So a watchdog tick costs no timer operation per renewed lock (one
   * re-arm per TTL instead of a clearTimeout/setTimeout pair per renewal); only a deadline that
   * moves earlier (a renew to a shorter TTL) re-arms at once.
   */
  #armExpiry(h: Handle): void {
    const armed = this.#expiry.get(h);
    if (armed !== undefined && armed.at <= h.validUntil) return;
    if (armed !== undefined) clearTimeout(armed.timer);
    this.#setExpiryTimer(h);
  }

  #setExpiryTimer(h: Handle): void {
    const at = h.validUntil;
    const timer = setTimeout(() => {
      if (this.#expiry.get(h)?.timer !== timer) return;
      // Renewed meanwhile, or a deadline beyond one timer's reach (timers have 1 ms granularity:
      // within that, it is due now).
      if (h.validUntil - this.clock.now() > 1) {
        this.#setExpiryTimer(h);
        return;
      }
      this.reportLost(h, 'its lease expired before it was renewed');
      // Owner-checked, so harmless if someone else holds it now; frees the key at once if a
      // renewal sent during a pause extended it after all.
      this.releaseOnce(h).catch(() => false);
    }, timerDelay(at - this.clock.now()));
    timer.unref();
    this.#expiry.set(h, { timer, at });
  }

  #forget(h: Handle): void {
    this.#held.delete(h);
    this.#observers.delete(h);
    this.#watchdog.remove(h);
    const armed = this.#expiry.get(h);
    if (armed !== undefined) clearTimeout(armed.timer);
    this.#expiry.delete(h);
  }

  async #watch(key: string): Promise<void> {
    const n = this.#watching.get(key) ?? 0;
    this.#watching.set(key, n + 1);
    if (n > 0) return;
    const lingering = this.#lingering.get(key);
    if (lingering !== undefined) {
      // Still subscribed from the last waiter: no new subscription round trip.
      clearTimeout(lingering);
      this.#lingering.delete(key);
      return;
    }
    try {
      await this.watchReleases(key);
    } catch (error) {
      this.#unwatch(key, true);
      throw this.wrapError('subscribe', key, error);
    }
  }

  /**
   * A waiter stopped waiting. When it was the key's last one, the backend stops observing the
   * key only after `maxRetryDelay`: a key with one waiter at a time (a coalesced caller, a job
   * that re-locks) would otherwise pay a subscribe and an unsubscribe per acquisition.
   */
  #unwatch(key: string, now = false): void {
    const n = (this.#watching.get(key) ?? 1) - 1;
    if (n > 0) {
      this.#watching.set(key, n);
      return;
    }
    this.#watching.delete(key);
    if (now || this.closed) return this.#stopWatching(key);
    const timer = setTimeout(() => {
      this.#lingering.delete(key);
      this.#stopWatching(key);
    }, this.maxRetryDelay);
    timer.unref();
    this.#lingering.set(key, timer);
  }

  #stopWatching(key: string): void {
    try {
      this.unwatchReleases(key);
    } catch {
      // Unsubscribing is best effort: a stale subscription costs a message, not correctness.
    }
  }

  #own(handle: LockHandle): Handle {
    if (!(handle instanceof Handle) || handle.owner !== this) {
      throw new InvalidOptionError('handle', `a handle returned by this ${this.backend} lock`, handle);
    }
    return handle;
  }

  #assertOpen(operation: string, key?: string): void {
    if (this.closed) throw new LockClosedError(`${this.backend} lock`, operation, key);
  }

  /**
   * How the lock shows in logs and assertion messages. Test libraries (chai's loupe) would
   * otherwise call our async `inspect(key)` method as if it were a formatter.
   */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.#describe();
  }
  [Symbol.for('chai/inspect')](): string {
    return this.#describe();
  }
  #describe(): string {
    return `${this.constructor.name} { backend: '${this.backend}', held: ${this.#held.size}${this.closed ? ', closed' : ''} }`;
  }

  /** Our own errors pass through; anything else becomes a `LockBackendError` with `cause`. */
  protected wrapError(operation: string, key: string, error: unknown): Error {
    if (error instanceof DlockError || error instanceof InvalidOptionError) return error;
    return new LockBackendError(this.backend, operation, { key, cause: error });
  }
}
