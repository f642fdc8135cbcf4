import {
  DlockError,
  InvalidOptionError,
  LockBackendError,
  LockClosedError,
  LockLostError,
} from '../errors.js';
import { Handle, type HandleOwner } from '../handle.js';
import type { AcquireResult, Claim, HeldLock, LockDriver, Pace } from './driver.js';
import { HeldSet } from './held-set.js';
import { KeyQueue, type QueueTicket } from './key-queue.js';
import { Outage } from './outage.js';
import type { ResolvedEngineOptions } from './options.js';
import { ReleaseWatch } from './release-watch.js';
import { Watchdog, type RenewOutcome } from './watchdog.js';

/**
 * The state of one engine and the steps every public operation is made of, shared by
 * `LockEngine` (the public API), the acquire loops and the hand-over. Internal to core.
 */
export class EngineCore<D> {
  readonly held: HeldSet<D>;
  /** Local waiters per key; a releasing holder may grant one a handle (hand-over). */
  readonly queue = new KeyQueue<Handle<D>>();
  readonly watch: ReleaseWatch;
  readonly watchdog: Watchdog<D>;
  /**
   * Whether the driver serves claims other than `exclusive`: then local tickets carry their
   * claim, so that one release wakes every waiter it may admit (see `KeyQueue.notify`).
   */
  readonly ordersClaims: boolean;
  /** The driver keeps one place per engine and key in its line (see `DriverFeatures.turns`). */
  readonly turns: boolean;
  closed = false;
  /** Waiting `lock()` calls of a wait-list driver (see {@link trackWait}). */
  readonly waits = new Set<Promise<unknown>>();
  /** Departures from the server's wait list still under way. */
  readonly leaving = new Set<Promise<unknown>>();

  constructor(
    readonly driver: LockDriver<D>,
    readonly options: ResolvedEngineOptions,
    /** The public lock: what handles call back into, and how errors name the lock. */
    readonly owner: HandleOwner,
  ) {
    this.held = new HeldSet<D>(options.clock, (h) => this.reportLost(h, 'its lease expired before it was renewed'));
    this.watch = new ReleaseWatch(driver.features.releaseFeed, options.maxRetryDelay);
    this.watchdog = new Watchdog<D>((handles, pace) => this.renewHandles(handles, pace), options.clock);
    this.ordersClaims = driver.features.claims.some((kind) => kind !== 'exclusive');
    const { turns, waitList, transfer } = driver.features;
    this.turns = turns === true && waitList !== undefined && transfer !== undefined;
  }

  /**
   * With turns: local waiters of `key` wait behind a caller of ours that holds a place in the
   * server's line. When none does any more (it left, or the key went on in the line's order
   * after our turn), the first that sleeps is woken, to take a place (or the key). After a
   * release that names nobody (`unnamed`: a feed that reconnected, an unordered release), the
   * first sleeping caller with a place is woken too: only it may be first in line, and the
   * queue's own wake-up goes to the oldest caller, which may have none.
   */
  passPlace(key: string, unnamed = false): void {
    if (!this.turns) return;
    let sleeper: QueueTicket<Handle<D>> | undefined;
    let placedSleeper: QueueTicket<Handle<D>> | undefined;
    let placed = false;
    for (const t of this.queue.tickets(key)) {
      if (t.placed) {
        placed = true;
        if (placedSleeper === undefined && t.sleeping) placedSleeper = t;
      } else if (sleeper === undefined && t.sleeping) {
        sleeper = t;
      }
    }
    if (!placed) sleeper?.wake();
    else if (unnamed) placedSleeper?.wake();
  }

  get backend(): string {
    return this.driver.backend;
  }

  now(): number {
    return this.options.clock.now();
  }

  assertOpen(operation: string, key?: string): void {
    if (this.closed) throw new LockClosedError(`${this.backend} lock`, operation, key);
  }

  /** When a lock acquired by a request sent at `startedAt` is surely held until. */
  validUntil(startedAt: number, ttl: number): number {
    const drift = this.driver.features.drift;
    return startedAt + ttl - (drift === undefined ? 0 : drift(ttl));
  }

  /** Our own errors pass through; anything else becomes a `LockBackendError` with `cause`. */
  wrapError(operation: string, key: string, error: unknown): Error {
    if (error instanceof DlockError || error instanceof InvalidOptionError) return error;
    const last = this.driver.features.lastConnectionError?.();
    if (last !== undefined && error instanceof Error && error !== last) {
      // While the client cannot connect, a failure names the connection error behind it.
      error = new Error(`${error.message} (last connection error: ${last.message})`, { cause: error });
    }
    return new LockBackendError(this.backend, operation, { key, cause: error });
  }

  /** The failure bookkeeping of one `lock()` call (see `LockEngineOptions.unavailableTimeout`). */
  outage(waitTimeout: number | undefined): Outage {
    const { clock, maxRetryDelay, unavailableTimeout } = this.options;
    return new Outage(clock, maxRetryDelay, waitTimeout === undefined ? unavailableTimeout : Infinity);
  }

  /**
   * A `lock()` attempt failed: how long to wait before the next one. Rethrows what waiting
   * cannot cure (abort, close, bad input, a permanent backend error), and the last backend
   * error once the backend has been failing for `unavailableTimeout`.
   */
  backOff(outage: Outage, error: unknown, key: string): number {
    // Closed while the attempt (or the subscription) was under way: the backend error is only the
    // closing connection; the truth is that the lock was closed.
    if (error instanceof LockBackendError && this.closed) throw new LockClosedError(`${this.backend} lock`, 'lock', key);
    if (!(error instanceof LockBackendError)) throw error;
    // The engine's own late-answer error is a slow backend: always worth another attempt.
    if (!(error.cause instanceof LateAnswerError) && !this.driver.isTransient(error.cause ?? error)) throw error;
    const delay = outage.failed(error);
    if (delay !== undefined) return delay;
    throw new LockBackendError(this.backend, `lock() (unavailable for ${Math.round(outage.lasted)} ms, ${outage.failures} attempts)`, {
      key,
      cause: error.cause ?? error,
    });
  }

  /**
   * One attempt for `claim`; a held handle, or how long the current holder's lease has left.
   * `waiting`: the caller waits (its place in a server's wait list is kept when not granted).
   */
  async attempt(
    key: string,
    token: string,
    ttl: number,
    signal: AbortSignal | undefined,
    claim: Claim,
    waiting: boolean,
  ): Promise<Handle<D> | { retryAfter: number }> {
    const startedAt = this.now(); // validity counts from before the request is sent
    let result: AcquireResult<D>;
    try {
      result = await this.driver.acquire({ key, token, ttl, claim, waiting });
    } catch (error) {
      // Closed while the request was under way: the failure is only the closing connection.
      if (this.closed) throw new LockClosedError(`${this.backend} lock`, 'lock', key);
      throw this.wrapError('acquire', key, error);
    }
    if (!result.acquired) return { retryAfter: result.retryAfter };
    const handle = await this.adopt(key, token, ttl, startedAt, result, signal);
    if (handle !== null) return handle;
    throw this.lateAnswer(key, ttl, startedAt);
  }

  /**
   * An acquire whose answer came after its lease had run out: the key was free, so "held by
   * someone else" would be a lie; the lock was given back and the failure is the backend's
   * slowness (`lock()` retries it like any backend failure).
   */
  lateAnswer(key: string, ttl: number, startedAt: number): LockBackendError {
    const took = Math.round(this.now() - startedAt);
    return new LockBackendError(this.backend, 'acquire', {
      key,
      cause: new LateAnswerError(
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
  async adopt(
    key: string,
    token: string,
    ttl: number,
    startedAt: number,
    result: AcquireResult<D> & { acquired: true },
    signal: AbortSignal | undefined,
  ): Promise<Handle<D> | null> {
    const validUntil = this.validUntil(result.validFrom ?? startedAt, ttl);
    const handle = new Handle<D>(this.owner, key, token, result.fencingToken, ttl, validUntil, result.data);
    if (validUntil <= this.now() && !this.closed && !signal?.aborted) {
      await this.giveBack(handle);
      return null;
    }
    if (this.closed || signal?.aborted) {
      // Aborted or closed while the request was in flight: give the lock back, leave no trace.
      await this.giveBack(handle);
      if (signal?.aborted) throw signal.reason;
      throw new LockClosedError(`${this.backend} lock`, 'lock', key);
    }
    this.held.add(handle);
    return handle;
  }

  /** Releases a lock nobody will hold (best effort) and marks its handle released. */
  async giveBack(handle: Handle<D>): Promise<void> {
    await this.driver.release(handle).catch(() => false);
    handle.markReleased();
  }

  /** A waiting caller gave up: its place in the server's wait list (if any) goes, best effort. */
  leaveWaitList(key: string, token: string): Promise<void> {
    const list = this.driver.features.waitList;
    if (list === undefined) return Promise.resolve();
    try {
      const leaving = Promise.resolve(list.leave(key, token)).catch(() => undefined);
      this.leaving.add(leaving);
      void leaving.then(() => this.leaving.delete(leaving));
      return leaving;
    } catch {
      // Best effort: the server drops the place when it expires.
      return Promise.resolve();
    }
  }

  /**
   * A waiting `lock()` that took a place in the server's wait list: known to `close()` until it
   * calls the returned function (once it left, or acquired), so that close() lets it leave its
   * place before the driver closes its connection (a place left behind would hold up the callers
   * behind it until it expires).
   */
  trackWaiter(): () => void {
    let done!: () => void;
    const settled = new Promise<void>((resolve) => (done = resolve));
    this.waits.add(settled);
    return () => {
      this.waits.delete(settled);
      done();
    };
  }

  /** Settles once every tracked waiter has settled and every place it left is gone (best effort). */
  async drainWaitList(): Promise<void> {
    await Promise.allSettled([...this.waits]);
    await Promise.allSettled([...this.leaving]);
  }

  /** Stops tracking `h` (timers, watchdog, observer). */
  forget(h: Handle<D>): void {
    this.held.delete(h);
    this.watchdog.remove(h);
  }

  /**
   * `lock` is gone (key deleted, lease revoked, expired here): fires its `signal` with
   * `LockLostError`, and lets the driver free what it keeps (owner-checked, so harmless if
   * someone else holds the key now; frees it at once if a renewal sent during a pause extended
   * it after all).
   */
  reportLost(lock: HeldLock<D>, reason: string, cause?: unknown): void {
    const handle = lock as Handle<D>;
    if (!this.held.has(handle)) return;
    this.forget(handle);
    handle.markLost(new LockLostError(handle.key, reason, { backend: this.backend, cause }));
    this.driver.abandon(handle);
  }

  /** A renewal to `ttl` sent at `startedAt` succeeded. */
  refresh(h: Handle<D>, ttl: number, startedAt: number): void {
    h.refresh(ttl, this.validUntil(startedAt, ttl));
    this.held.arm(h);
  }

  /**
   * The watchdog's batch: one `renewMany` for every handle due. `pace` is the tick's: the driver
   * yields with it while it builds the request and reads the replies, and so does the loop
   * below that applies the results (thousands of handles per tick).
   */
  async renewHandles(handles: Array<Handle<D>>, pace: Pace = noPace): Promise<RenewOutcome[]> {
    const startedAt = this.now();
    let results: Array<boolean | Error>;
    try {
      results = await this.driver.renewMany(handles, { pace });
    } catch (error) {
      results = handles.map(() => (error instanceof Error ? error : new Error(String(error))));
    }
    const outcomes = new Array<RenewOutcome>(handles.length);
    for (let i = 0; i < handles.length; i++) {
      outcomes[i] = this.#applyRenewal(handles[i]!, results[i] ?? new Error('no renewal result'), startedAt);
      const turn = pace();
      if (turn !== undefined) await turn;
    }
    return outcomes;
  }

  /** One handle's renewal result, sent at `startedAt`: refresh it, report it lost, or report the failure. */
  #applyRenewal(h: Handle<D>, r: boolean | Error, startedAt: number): RenewOutcome {
    if (r === true) {
      if (h.held) this.refresh(h, h.ttl, startedAt);
      this.held.notify(h, (o) => o.renewed?.(h));
      return 'renewed';
    }
    if (r === false) {
      this.reportLost(h, 'the watchdog found the lock gone');
      return 'lost';
    }
    // Transient: retried until validUntil; the expiry timer decides loss.
    const error = this.wrapError('renew', h.key, r);
    this.held.notify(h, (o) => o.renewFailed?.(h, error));
    return 'error';
  }
}

/** The pace of a batch run outside a watchdog tick: never yields. */
const noPace: Pace = () => undefined;

/** An acquire answered after its own lease ended (see `EngineCore.lateAnswer`): the backend was slow. */
class LateAnswerError extends Error {
  override readonly name = 'LateAnswerError';
}
