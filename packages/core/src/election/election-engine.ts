import { DlockError, InvalidOptionError, LockAcquireTimeoutError, LockBackendError, LockClosedError, LockNotHeldError } from '../errors.js';
import type { HeldLock } from '../engine/driver.js';
import { LockEngine } from '../engine/lock-engine.js';
import type { KnownOptions, LockEngineOptions } from '../engine/options.js';
import { KeyedMutex } from '../local/keyed-mutex.js';
import type { LockCapabilities, LockHandle, RenewObserver } from '../types.js';
import { validateKey } from '../validate.js';
import { LeaderFeed } from './leader-feed.js';
import { LeaderHandle, leadershipHandle } from './leadership.js';
import type { CampaignOptions, Election, ElectionDriver, LeaderInfo, Leadership, ObserveOptions } from './types.js';
import { resolveCampaignOptions, resolveObserveOptions, validateValue } from './validate.js';

/**
 * Leader election over an {@link ElectionDriver}: a leadership is an exclusive lock on the
 * election's name, held through a {@link LockEngine}, so waiting (woken by the backend, never
 * polling), validity on a monotonic clock, the batched watchdog, the lost-leadership signal and
 * close() are the engine's; the term is the lock's fencing token. The election adds the value
 * (campaign, proclaim), reading the leader and following its changes.
 *
 * One instance runs one campaign per name at a time: a second local campaign of a name waits
 * here (first come, first served) until the first one's leadership ends, as one Go `Session`
 * campaigns once per election.
 *
 * @example
 * ```ts
 * class MyElection extends ElectionEngine<MyData> {
 *   constructor(options: LockEngineOptions = {}) {
 *     super(new MyElectionDriver(), options, { names: [], what: 'new MyElection()' });
 *   }
 * }
 * ```
 */
export class ElectionEngine<D> implements Election, AsyncDisposable {
  readonly backend: string;
  readonly capabilities: LockCapabilities;
  readonly #driver: ElectionDriver<D>;
  readonly #lock: LockEngine<D>;
  readonly #local = new KeyedMutex();
  readonly #closing = new AbortController();
  #closed: Promise<void> | undefined;

  /**
   * @param driver the backend (used by this election only).
   * @param options the engine's options and the backend's own (validated against `known`).
   * @param known the backend's own option names and how its constructor reads in messages.
   */
  constructor(driver: ElectionDriver<D>, options: LockEngineOptions | undefined, known: KnownOptions) {
    this.#lock = new LockEngine(driver, options, known);
    this.#driver = driver;
    this.backend = driver.backend;
    this.capabilities = driver.capabilities;
  }

  /** The TTL used when a campaign gives none, in ms. */
  get defaultTtl(): number {
    return this.#lock.defaultTtl;
  }

  get closed(): boolean {
    return this.#closed !== undefined;
  }

  async campaign(name: string, value: string, options?: CampaignOptions): Promise<Leadership> {
    validateKey(name);
    validateValue(value);
    const o = resolveCampaignOptions(options, this.#lock.defaultTtl);
    this.#assertOpen('campaign', name);
    o.signal?.throwIfAborted();
    const startedAt = performance.now();
    const wait = { ...(o.signal && { signal: o.signal }), ...(o.waitTimeout !== undefined && { waitTimeout: o.waitTimeout }) };
    const endLocal = await this.#local.acquire(name, wait).catch((error: unknown) => {
      throw error instanceof LockAcquireTimeoutError ? new LockAcquireTimeoutError(name, o.waitTimeout ?? 0, { backend: this.backend }) : error;
    });
    let handle: LockHandle;
    try {
      this.#assertOpen('campaign', name);
      this.#driver.campaigns.set(name, value);
      const left = o.waitTimeout === undefined ? undefined : Math.max(0, o.waitTimeout - (performance.now() - startedAt));
      handle = await this.#lock.lock(name, { ttl: o.ttl, ...(left !== undefined && { waitTimeout: left }), ...(o.signal && { signal: o.signal }) });
    } catch (error) {
      endLocal();
      if (error instanceof LockAcquireTimeoutError) {
        throw new LockAcquireTimeoutError(name, o.waitTimeout ?? 0, { backend: this.backend, cause: error.cause });
      }
      throw error;
    } finally {
      this.#driver.campaigns.delete(name);
    }
    // The next local campaign of this name starts once this leadership ends (resigned or lost).
    if (handle.held) handle.signal.addEventListener('abort', endLocal, { once: true });
    else endLocal();
    if (o.autoRenew) this.#lock.autoRenew(handle);
    return new LeaderHandle(handle, value, (h, v) => this.#proclaim(h, v));
  }

  async leader(name: string): Promise<LeaderInfo | null> {
    validateKey(name);
    this.#assertOpen('leader', name);
    try {
      return await this.#driver.leader(name);
    } catch (error) {
      throw this.#wrap('leader', name, error);
    }
  }

  observe(name: string, options?: ObserveOptions): AsyncIterable<LeaderInfo | null> {
    validateKey(name);
    const signal = resolveObserveOptions(options);
    this.#assertOpen('observe', name);
    const driver = this.#driver;
    return new LeaderFeed(
      {
        run: (emit, s) => driver.observe(name, emit, s),
        isTransient: (error) => !(error instanceof DlockError || error instanceof InvalidOptionError) && driver.isTransient(error),
        wrap: (error) => this.#wrap('observe', name, error),
      },
      signal,
      this.#closing.signal,
    );
  }

  autoRenew(leadership: LockHandle, observer?: RenewObserver): () => void {
    return this.#lock.autoRenew(this.#own(leadership), observer);
  }

  /** Same as `leadership.extend(ttl)`. */
  renew(leadership: LockHandle, ttl?: number): Promise<void> {
    return this.#lock.renew(this.#own(leadership), ttl);
  }

  /** Same as `leadership.resign()`. */
  resign(leadership: LockHandle): Promise<void> {
    return this.#lock.unlock(this.#own(leadership));
  }

  /** Resigns what this instance leads (best effort), fails its campaigns, ends its observers. */
  close(): Promise<void> {
    this.#closed ??= this.#close();
    return this.#closed;
  }

  /** `await using election = new RedisElection(url)`: {@link close} at the end of the block. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #close(): Promise<void> {
    this.#closing.abort(new LockClosedError(`${this.backend} election`, 'observe'));
    await this.#lock.close();
  }

  async #proclaim(handle: LockHandle, value: string): Promise<void> {
    validateValue(value);
    this.#assertOpen('proclaim', handle.key);
    if (!handle.held) throw new LockNotHeldError(handle.key, 'the leadership ended before the proclaim', { backend: this.backend });
    let ours: boolean;
    try {
      ours = await this.#driver.proclaim(handle as unknown as HeldLock<D>, value);
    } catch (error) {
      throw this.#wrap('proclaim', handle.key, error);
    }
    if (!ours) throw new LockNotHeldError(handle.key, 'the leadership was lost before the proclaim', { backend: this.backend });
  }

  #own(leadership: LockHandle): LockHandle {
    const handle = leadershipHandle(leadership);
    if (handle === undefined) throw new InvalidOptionError('leadership', `a leadership won through this ${this.backend} election`, leadership);
    return handle;
  }

  #assertOpen(operation: string, name: string): void {
    if (this.#closed !== undefined) throw new LockClosedError(`${this.backend} election`, operation, name);
  }

  #wrap(operation: string, name: string, error: unknown): Error {
    if (error instanceof DlockError || error instanceof InvalidOptionError) return error;
    return new LockBackendError(this.backend, operation, { key: name, cause: error });
  }

  /** How the election shows in logs and assertion messages (never as a call of `leader()`). */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `${this.constructor.name} { backend: '${this.backend}'${this.closed ? ', closed' : ''} }`;
  }
}
