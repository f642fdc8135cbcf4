import { InvalidOptionError } from '../errors.js';
import { KeyedMutex } from '../local/keyed-mutex.js';
import { autoRenewOf } from '../renew-timer.js';
import { abortableDelay } from '../sleep.js';
import type { AcquireOptions, DistributedLock, LockCapabilities, LockHandle, LockInfo, RenewObserver } from '../types.js';
import { resolveAcquireOptions, validateKey } from '../validate.js';
import { parseCoalesce, type CoalesceOptions } from './coalesce-options.js';
import { LeaseView, SharedLease, type LeaseRequest, type TurnOwner } from './shared-lease.js';

/**
 * What a runner (`LockService`) tells the coalescing lock about a caller: whether it will keep
 * the lock auto-renewed (a lease is handed over only between callers that ask the same), and
 * the observer its renewals report to.
 */
export interface CoalescedCaller {
  readonly autoRenew: boolean;
  /**
   * The runner ends every turn through `unlock()`, also when its function released the handle
   * itself: such a release gives the backend lock back but keeps the local key until then (the
   * next local caller starts when the function has returned).
   */
  readonly endsTurns?: boolean;
  readonly renewObserver?: () => RenewObserver;
}

/** A caller that says nothing: no auto-renewal, so its lease is never handed over. */
const plainCaller: CoalescedCaller = Object.freeze({ autoRenew: false });

/**
 * Local coalescing as a decorator over any lock: callers of one process queue locally per key
 * (FIFO), so only one of them at a time talks to the backend. With `handOver`, the lock of a
 * caller whose turn ends passes straight to the next local caller (see {@link CoalesceOptions}
 * for when it may). Handles are lease views of their own: release them through this lock or
 * `handle.release()`, also after a loss (the release then rejects with `LockNotHeldError`, as
 * on every lock, and lets the next local caller in: like a local mutex, a turn ends only when
 * its holder ends it).
 *
 * @example
 * ```ts
 * const lock = new CoalescingLock(new RedisLock(redis), { handOver: true });
 * await using handle = await lock.lock('report');
 * ```
 */
export class CoalescingLock implements DistributedLock, AsyncDisposable, TurnOwner {
  readonly backend: string;
  readonly capabilities: LockCapabilities;
  readonly #local = new KeyedMutex();
  readonly #limits: Required<CoalesceOptions>;
  readonly #renew: DistributedLock['autoRenew'];
  /** Leases handed over and not yet picked up by the woken local caller (never across an await). */
  readonly #parked = new Map<string, SharedLease>();
  /** Pauses (ms) the next local caller of a key takes before acquiring: see #yieldTo. */
  readonly #yields = new Map<string, number>();

  /**
   * @param inner the lock to coalesce callers of (closed by `close()`).
   * @param options `true` (queue locally) or {@link CoalesceOptions}.
   */
  constructor(
    readonly inner: DistributedLock,
    options: boolean | CoalesceOptions = true,
  ) {
    if (typeof inner !== 'object' || inner === null || typeof inner.lock !== 'function') {
      throw new InvalidOptionError('inner', 'a DistributedLock', inner);
    }
    this.#limits = parseCoalesce(options === false ? true : options)!;
    this.backend = inner.backend;
    this.capabilities = inner.capabilities;
    this.#renew = autoRenewOf(inner);
  }

  /** Callers of `key` queued here behind its current local holder. */
  waiting(key: string): number {
    return this.#local.waiting(key);
  }

  async tryLock(key: string, options?: AcquireOptions, caller: CoalescedCaller = plainCaller): Promise<LockHandle | null> {
    validateKey(key);
    resolveAcquireOptions(options, 1); // bad input fails before the local queue is touched
    const releaseLocal = this.#local.tryAcquire(key);
    if (releaseLocal === null) return null;
    try {
      const handle = await this.inner.tryLock(key, options);
      if (handle === null) {
        releaseLocal();
        return null;
      }
      return this.#newLease(handle, request(options, caller), caller).open(this, releaseLocal, caller.endsTurns === true);
    } catch (error) {
      releaseLocal();
      throw error;
    }
  }

  async lock(key: string, options: AcquireOptions = {}, caller: CoalescedCaller = plainCaller): Promise<LockHandle> {
    validateKey(key);
    const o = resolveAcquireOptions(options, 1);
    const started = performance.now();
    const local: { signal?: AbortSignal; waitTimeout?: number } = {};
    if (o.signal !== undefined) local.signal = o.signal;
    if (o.waitTimeout !== undefined) local.waitTimeout = o.waitTimeout;
    const releaseLocal = await this.#local.acquire(key, local);
    try {
      return await this.#takeLease(key, options, caller, started, releaseLocal);
    } catch (error) {
      releaseLocal();
      throw error;
    }
  }

  /** Ends the turn of `handle`: hands the lock to the next local caller when allowed, else releases it. */
  async unlock(handle: LockHandle): Promise<void> {
    if (!(handle instanceof LeaseView)) return this.inner.unlock(handle);
    await this.endTurn(handle, true);
  }

  /** Renews the backend lock. A new `ttl` keeps this lease from being handed over. */
  renew(handle: LockHandle, ttl?: number): Promise<void> {
    if (!(handle instanceof LeaseView)) return this.inner.renew(handle, ttl);
    return handle.extend(ttl);
  }

  autoRenew(handle: LockHandle, observer?: RenewObserver): () => void {
    if (!(handle instanceof LeaseView)) return this.#renew(handle, observer);
    // A lease renewed for its first caller stays renewed across hand-overs.
    if (!handle.held || handle.lease.stopRenew !== undefined) return () => {};
    return this.#renew(handle.lease.backend, observer);
  }

  isLocked(key: string): Promise<boolean> {
    return this.inner.isLocked(key);
  }

  inspect(key: string): Promise<LockInfo | null> {
    return this.inner.inspect(key);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * @internal (TurnOwner) Ends `view`'s turn: pass the lease on when `passOn` and allowed, else
   * give it back. A turn that already ended, or whose lock was lost, frees the local key and
   * rejects with `LockNotHeldError`.
   */
  async endTurn(view: LeaseView, passOn: boolean): Promise<void> {
    const lease = view.lease;
    // A release from inside a runner's function: the runner ends the turn (and frees the key) later.
    const keepLocal = !passOn && view.runnerEndsTurn;
    const lost = view.ended ? undefined : lease.lostError();
    if (lost !== undefined) {
      view.finish(lost);
      void lease.end().catch(() => undefined); // stops the renewals; nothing is left to unlock
    }
    if (view.ended) {
      if (!keepLocal) view.releaseLocal();
      view.assertHeld(); // throws the LockNotHeldError that says why
    }
    if (passOn && this.#passOn(view)) return;
    const bounded = this.#limits.handOver && passOn && this.#local.waiting(view.key) > 0 && lease.exhausted(this.#limits, performance.now());
    const releaseStarted = performance.now();
    try {
      await lease.end();
    } finally {
      view.finish(lease.lostError() ?? 'released');
      if (bounded) this.#yieldTo(view.key, performance.now() - releaseStarted, view.releaseLocal);
      else if (!keepLocal) view.releaseLocal();
    }
  }

  /**
   * For the local caller that was just given `key`: the lease its predecessor handed over, or a
   * lock of its own from the backend. A handed-over lease that does not suit this caller (other
   * ttl or autoRenew, or this caller gave up) is released first.
   */
  async #takeLease(key: string, options: AcquireOptions, caller: CoalescedCaller, started: number, releaseLocal: () => void): Promise<LeaseView> {
    const asked = request(options, caller);
    const parked = this.#parked.get(key);
    if (parked !== undefined) {
      this.#parked.delete(key);
      if (!options.signal?.aborted && parked.suits(asked)) return parked.open(this, releaseLocal, caller.endsTurns === true);
      // Its release error, if any, is the backend's: the acquire below meets and reports it.
      await parked.end().catch(() => undefined);
    }
    const pause = this.#yields.get(key);
    const left = () => (options.waitTimeout === undefined ? Infinity : options.waitTimeout - (performance.now() - started));
    if (pause !== undefined) {
      this.#yields.delete(key);
      await abortableDelay(Math.min(pause, Math.max(0, left())), options.signal);
    }
    // Time spent queued locally counts against the caller's waitTimeout.
    const rest = options.waitTimeout === undefined ? options : { ...options, waitTimeout: Math.max(0, left()) };
    const handle = await this.inner.lock(key, rest);
    return this.#newLease(handle, asked, caller).open(this, releaseLocal, caller.endsTurns === true);
  }

  #newLease(handle: LockHandle, asked: LeaseRequest, caller: CoalescedCaller): SharedLease {
    const lease = new SharedLease(handle, asked, this.inner);
    if (caller.autoRenew) lease.stopRenew = this.#renew(handle, caller.renewObserver?.());
    return lease;
  }

  /**
   * Hands the lease of the turn that just ended to the oldest local caller, if one is queued and
   * the lease may be handed over. Synchronous from the check to the hand-off, so the caller
   * cannot leave in between and strand the lease.
   */
  #passOn(view: LeaseView): boolean {
    const lease = view.lease;
    if (!this.#limits.handOver || this.#local.waiting(view.key) === 0 || !lease.mayHandOver(this.#limits, performance.now())) return false;
    this.#parked.set(view.key, lease);
    view.releaseLocal(); // the oldest caller now holds the key and picks the lease up in #takeLease
    if (!this.#local.isLocked(view.key)) {
      this.#parked.delete(view.key); // unreachable with KeyedMutex's direct hand-off; never strand a lease
      return false;
    }
    lease.handOvers++;
    view.finish('released');
    return true;
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
    if (!this.#local.isLocked(key)) this.#yields.delete(key); // nobody was left to take it
  }
}

/** Longest pause a process takes to let other processes have a bounded-out key (see #yieldTo). */
const MAX_YIELD_MS = 20;

function request(options: AcquireOptions | undefined, caller: CoalescedCaller): LeaseRequest {
  return { ttl: options?.ttl, autoRenew: caller.autoRenew };
}
