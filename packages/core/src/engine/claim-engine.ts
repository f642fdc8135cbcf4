import { InvalidOptionError, LockNotHeldError, LockLostError } from '../errors.js';
import { Handle } from '../handle.js';
import { newToken } from '../token.js';
import type { AcquireOptions, LockCapabilities, LockHandle, LockInfo, RenewObserver } from '../types.js';
import { resolveAcquireOptions, validateKey, validateTtl } from '../validate.js';
import { waitForLock, waitInQueue } from './acquire-loop.js';
import { validateClaim } from './claim.js';
import { EXCLUSIVE, type Claim, type ClaimKind, type KeyHolders, type LockDriver } from './driver.js';
import { EngineCore } from './engine-core.js';
import { claimWaiter, handOver } from './hand-over.js';
import { resolveEngineOptions, type KnownOptions, type LockEngineOptions } from './options.js';

/**
 * The engine of every primitive over a {@link LockDriver}: acquisitions of any {@link Claim}
 * (exclusive, shared, permits) with validation before any I/O, waiting (queued locally, woken
 * by release notifications, ordered by the server's wait list where the driver has one,
 * abortable, riding out backend outages), validity on a monotonic clock, the lost-lock signal,
 * the batched watchdog, local hand-over (mutex drivers only) and close(). The public classes
 * are thin: {@link LockEngine} (a mutex) acquires `exclusive`, a read-write lock `shared` or
 * `exclusive`, a semaphore `permits`; unlock, renew, autoRenew and close are the same for all.
 */
export class ClaimEngine<D> implements AsyncDisposable {
  /** Backend name used in errors and logs (`memory`, `redis`, `etcd`, `redlock`). */
  readonly backend: string;
  readonly capabilities: LockCapabilities;
  readonly #core: EngineCore<D>;
  readonly #serves: readonly ClaimKind[];
  #closing: Promise<void> | undefined;

  /**
   * @param driver the backend (used by this engine only).
   * @param options the engine's options and the backend's own (validated here against `known`).
   * @param known the backend's own option names and how its constructor reads in messages.
   */
  constructor(driver: LockDriver<D>, options: LockEngineOptions | undefined, known: KnownOptions) {
    const { claims, transfer } = driver.features;
    if (transfer !== undefined && claims.some((kind) => kind !== 'exclusive')) {
      throw new InvalidOptionError(
        'driver.features.transfer',
        'absent on a driver that serves shared or permits claims (hand-over is a mutex feature)',
        claims.join(', '),
      );
    }
    const resolved = resolveEngineOptions(options, known, transfer !== undefined);
    this.backend = driver.backend;
    this.capabilities = driver.capabilities;
    this.#serves = Object.freeze([...claims]);
    this.#core = new EngineCore(driver, resolved, this);
    const core = this.#core;
    driver.attach({
      clock: resolved.clock,
      maxRetryDelay: resolved.maxRetryDelay,
      released: (key, next) => {
        core.queue.notify(key, next);
        core.passPlace(key, next === undefined);
      },
      lost: (lock, reason, cause) => core.reportLost(lock, reason, cause),
      held: () => core.held.all(),
    });
  }

  /** The TTL used when a call gives none, in ms. */
  get defaultTtl(): number {
    return this.#core.options.defaultTtl;
  }

  /**
   * One attempt to acquire `key` for `claim`: a handle, or `null` when the claim does not fit
   * now (held incompatibly, or callers queued before it on the server). Validates key, options
   * and claim before any I/O.
   */
  protected async tryAcquireClaim(key: string, claim: Claim, options?: AcquireOptions): Promise<LockHandle | null> {
    const core = this.#core;
    validateKey(key);
    const o = resolveAcquireOptions(options, core.options.defaultTtl);
    this.#checkTtl(o.ttl);
    const c = claim === EXCLUSIVE && this.#serves.includes('exclusive') ? claim : validateClaim(claim, this.#serves);
    core.assertOpen('tryLock', key);
    o.signal?.throwIfAborted();
    const attempt = await core.attempt(key, newToken(), o.ttl, o.signal, c, false);
    return attempt instanceof Handle ? attempt : null;
  }

  /**
   * Waits until `key` is acquired for `claim`, `waitTimeout` passes (`LockAcquireTimeoutError`)
   * or `signal` aborts. Validates key, options and claim before any I/O.
   */
  protected async acquireClaim(key: string, claim: Claim, options?: AcquireOptions): Promise<LockHandle> {
    const core = this.#core;
    validateKey(key);
    const o = resolveAcquireOptions(options, core.options.defaultTtl);
    this.#checkTtl(o.ttl);
    const c = claim === EXCLUSIVE && this.#serves.includes('exclusive') ? claim : validateClaim(claim, this.#serves);
    core.assertOpen('lock', key);
    o.signal?.throwIfAborted();
    const deadline = o.waitTimeout === undefined ? Infinity : core.now() + o.waitTimeout;
    const call = { key, token: newToken(), ttl: o.ttl, claim: c, deadline, waitTimeout: o.waitTimeout, signal: o.signal };
    return core.driver.features.queue === undefined ? waitForLock(core, call) : waitInQueue(core, call);
  }

  /** The driver's view of `key`'s holder (validated key; backend errors wrapped). */
  protected async inspectLock(key: string): Promise<LockInfo | null> {
    validateKey(key);
    this.#core.assertOpen('inspect', key);
    try {
      return await this.#core.driver.inspect(key);
    } catch (error) {
      throw this.#core.wrapError('inspect', key, error);
    }
  }

  /** Every holder of `key` with its claim (drivers with `features.inspectHolders`). */
  protected async inspectHolders(key: string): Promise<KeyHolders> {
    validateKey(key);
    const core = this.#core;
    core.assertOpen('inspect', key);
    const inspect = core.driver.features.inspectHolders;
    if (inspect === undefined) throw new TypeError(`the ${this.backend} driver declares no inspectHolders feature`);
    try {
      return await inspect(key);
    } catch (error) {
      throw core.wrapError('inspect', key, error);
    }
  }

  async unlock(handle: LockHandle): Promise<void> {
    const core = this.#core;
    const h = this.#own(handle);
    core.assertOpen('unlock', h.key);
    if (h.state === 'released') throw new LockNotHeldError(h.key, 'it was already released', { backend: this.backend });
    // Reported lost already (the expiry path also gave the key back): the truth needs no I/O,
    // and a release latch that expiry path left must not make it look released.
    if (h.state === 'lost') throw new LockNotHeldError(h.key, 'it was lost before release', { backend: this.backend, cause: h.signal.reason });
    // Stop renewing first: a release that fails midway must not leave the watchdog extending
    // a lock its owner asked to give up (it then simply expires).
    core.watchdog.remove(h);
    const claim = claimWaiter(core, h);
    let released: boolean;
    try {
      released = claim === undefined ? await core.driver.release(h) : await handOver(core, h, claim);
    } catch (error) {
      throw core.wrapError('release', h.key, error);
    }
    core.forget(h);
    if (released) {
      // Waiters (here and elsewhere) learn of it from the backend's notification.
      h.markReleased();
      return;
    }
    h.markLost(new LockLostError(h.key, 'it was no longer held when released', { backend: this.backend }));
    throw new LockNotHeldError(h.key, 'it expired or was taken over before release', { backend: this.backend });
  }

  async renew(handle: LockHandle, ttl?: number): Promise<void> {
    const core = this.#core;
    const h = this.#own(handle);
    const newTtl = ttl === undefined ? h.ttl : validateTtl(ttl);
    this.#checkTtl(newTtl);
    core.assertOpen('renew', h.key);
    if (!h.held) {
      throw new LockNotHeldError(h.key, h.state === 'released' ? 'it was released' : 'it was lost', { backend: this.backend });
    }
    const startedAt = core.now();
    let renewed: boolean;
    try {
      renewed = await core.driver.renew(h, newTtl);
    } catch (error) {
      throw core.wrapError('renew', h.key, error);
    }
    if (!renewed) {
      core.reportLost(h, 'renewal found the lock gone');
      throw new LockNotHeldError(h.key, 'it expired or was taken over', { backend: this.backend });
    }
    core.refresh(h, newTtl, startedAt);
  }

  /**
   * Keeps `handle` alive by renewing it at ttl/3 (batched with every other handle of this
   * instance) until released, lost, or the returned function is called.
   */
  autoRenew(handle: LockHandle, observer?: RenewObserver): () => void {
    const core = this.#core;
    const h = this.#own(handle);
    if (!h.held) return () => {};
    if (observer !== undefined) core.held.observe(h, observer);
    const stop = core.watchdog.add(h);
    return () => {
      core.held.unobserve(h);
      stop();
    };
  }

  /** Releases what this instance holds (best effort), wakes and fails its waiters, stops timers. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  get closed(): boolean {
    return this.#core.closed;
  }

  /**
   * `await using lock = new RedisLock(url)`: {@link close} at the end of the block. A lock
   * instance holds connections that keep the process alive until it is closed.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    const core = this.#core;
    core.closed = true;
    core.watchdog.stop();
    core.watch.close();
    core.queue.wakeAll();
    const held = core.held.clear();
    await Promise.allSettled(held.map((h) => core.giveBack(h)));
    // Woken waiters fail now and leave their places on the server, before the connection goes.
    await core.drainWaitList();
    await core.driver.close();
  }

  #checkTtl(ttl: number): void {
    const min = this.#core.driver.features.minTtl;
    if (min !== undefined && ttl < min.ms) throw new InvalidOptionError('ttl', `an integer >= ${min.ms} (${min.reason})`, ttl);
  }

  #own(handle: LockHandle): Handle<D> {
    if (!(handle instanceof Handle) || handle.owner !== this) {
      throw new InvalidOptionError('handle', `a handle returned by this ${this.backend} lock`, handle);
    }
    return handle as Handle<D>;
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
    return `${this.constructor.name} { backend: '${this.backend}', held: ${this.#core.held.size}${this.closed ? ', closed' : ''} }`;
  }
}
