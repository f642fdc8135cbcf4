import type { Clock } from './clock.js';
import type { AcquireRequest, AcquireResult, DriverFeatures, DriverHost, HeldLock, LockDriver, QueueWait } from './engine/driver.js';
import { LockEngine } from './engine/lock-engine.js';
import { resolveEngineOptions, type BaseLockOptions, type KnownOptions } from './engine/options.js';
import type { LockCapabilities, LockInfo } from './types.js';

/**
 * What one acquire attempt of a {@link BaseLock} backend returns.
 * @deprecated implement a `LockDriver` and return an `AcquireResult`.
 */
export type AcquireAttempt =
  | { acquired: true; fencingToken: bigint; data?: unknown; validFrom?: number }
  | { acquired: false; retryAfter: number };

/**
 * The first shape of a dlock backend: a subclass with protected hooks. It now runs on the
 * {@link LockEngine} through an adapter driver that calls those hooks.
 * @deprecated write a `LockDriver` and extend `LockEngine` (see docs/writing-a-backend.md).
 */
export abstract class BaseLock extends LockEngine<unknown> {
  abstract override readonly backend: string;
  abstract override readonly capabilities: LockCapabilities;
  protected readonly clock: Clock;
  protected readonly maxRetryDelay: number;
  protected readonly unavailableTimeout: number;
  protected readonly maxLocalHandOvers: number;
  readonly #host: HookDriver;

  protected constructor(options: BaseLockOptions = {}, known: KnownOptions = { names: [], what: 'the lock constructor' }) {
    const driver = new HookDriver(new.target.prototype as BaseLock);
    super(driver, options, known);
    driver.target = this;
    this.#host = driver;
    const resolved = resolveEngineOptions(options, known, driver.features.transfer !== undefined);
    this.clock = resolved.clock;
    this.maxRetryDelay = resolved.maxRetryDelay;
    this.unavailableTimeout = resolved.unavailableTimeout;
    this.maxLocalHandOvers = resolved.maxLocalHandOvers;
  }

  protected abstract acquireOnce(key: string, token: string, ttl: number): Promise<AcquireAttempt>;
  protected abstract releaseOnce(lock: HeldLock): Promise<boolean>;
  protected abstract renewOnce(lock: HeldLock, ttl: number): Promise<boolean>;
  protected abstract inspectOnce(key: string): Promise<LockInfo | null>;
  protected acquireQueued?(key: string, token: string, ttl: number, wait: QueueWait): Promise<AcquireAttempt>;
  protected transferOnce?(lock: HeldLock, token: string, ttl: number): Promise<AcquireAttempt>;

  protected async renewManyOnce(locks: readonly HeldLock[]): Promise<Array<boolean | Error>> {
    return Promise.all(locks.map((l) => this.renewOnce(l, l.ttl).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))));
  }
  protected watchReleases(_key: string): Promise<void> | void {}
  protected unwatchReleases(_key: string): void {}
  protected closeBackend(): Promise<void> | void {}
  protected validUntil(startedAt: number, ttl: number): number {
    return startedAt + ttl;
  }
  protected isTransientError(_error: unknown): boolean {
    return true;
  }
  /** Wraps a client error; a subclass may add context and call `super.wrapError`. */
  protected wrapError(_operation: string, _key: string, error: unknown): Error {
    return error instanceof Error ? error : new Error(String(error));
  }
  protected notifyReleased(key: string): void {
    this.#host.host?.released(key);
  }
  protected reportLost(lock: HeldLock, reason: string, cause?: unknown): void {
    this.#host.host?.lost(lock, reason, cause);
  }
  /** Called when the engine stopped tracking a lost lock (default: owner-checked release). */
  protected abandoned(lock: HeldLock): void {
    this.releaseOnce(lock).catch(() => false);
  }
  protected heldLocks(): readonly HeldLock[] {
    return this.#host.host?.held() ?? [];
  }

  /** @internal the adapter's way into the protected hooks. */
  static hooks(lock: BaseLock): BaseLockHooks {
    return lock as unknown as BaseLockHooks;
  }
}

/** The protected hooks, as the adapter calls them. */
interface BaseLockHooks {
  readonly backend: string;
  readonly capabilities: LockCapabilities;
  acquireOnce(key: string, token: string, ttl: number): Promise<AcquireAttempt>;
  releaseOnce(lock: HeldLock): Promise<boolean>;
  renewOnce(lock: HeldLock, ttl: number): Promise<boolean>;
  renewManyOnce(locks: readonly HeldLock[]): Promise<Array<boolean | Error>>;
  inspectOnce(key: string): Promise<LockInfo | null>;
  acquireQueued?(key: string, token: string, ttl: number, wait: QueueWait): Promise<AcquireAttempt>;
  transferOnce?(lock: HeldLock, token: string, ttl: number): Promise<AcquireAttempt>;
  watchReleases(key: string): Promise<void> | void;
  unwatchReleases(key: string): void;
  closeBackend(): Promise<void> | void;
  validUntil(startedAt: number, ttl: number): number;
  isTransientError(error: unknown): boolean;
  wrapError(operation: string, key: string, error: unknown): Error;
  abandoned(lock: HeldLock): void;
}

/** A driver whose every operation is a hook of a {@link BaseLock} subclass. */
class HookDriver implements LockDriver<unknown> {
  target: BaseLock | undefined;
  host: DriverHost<unknown> | undefined;
  readonly features: DriverFeatures<unknown>;

  constructor(prototype: BaseLock) {
    const p = BaseLock.hooks(prototype);
    this.features = {
      claims: ['exclusive'],
      releaseFeed: { watch: (key) => this.#t.watchReleases(key), unwatch: (key) => this.#t.unwatchReleases(key) },
      drift: (ttl) => ttl - this.#t.validUntil(0, ttl),
      ...(p.transferOnce === undefined ? {} : { transfer: async (lock: HeldLock, token: string, ttl: number) => fromAttempt(await this.#t.transferOnce!(lock, token, ttl)) }),
      ...(p.acquireQueued === undefined
        ? {}
        : { queue: async (r: AcquireRequest, wait: QueueWait) => fromAttempt(await this.#t.acquireQueued!(r.key, r.token, r.ttl, wait)) }),
    };
  }

  get #t(): BaseLockHooks {
    return BaseLock.hooks(this.target!);
  }
  get backend(): string {
    return this.target?.backend ?? 'unknown';
  }
  get capabilities(): LockCapabilities {
    // Read by the engine's constructor before the subclass set its own (which then replaces it).
    return this.target?.capabilities ?? placeholderCapabilities;
  }
  attach(host: DriverHost<unknown>): void {
    this.host = host;
  }
  async acquire(r: AcquireRequest): Promise<AcquireResult<unknown>> {
    return fromAttempt(await this.#call('acquire', r.key, () => this.#t.acquireOnce(r.key, r.token, r.ttl)));
  }
  release(lock: HeldLock): Promise<boolean> {
    return this.#call('release', lock.key, () => this.#t.releaseOnce(lock));
  }
  renew(lock: HeldLock, ttl: number): Promise<boolean> {
    return this.#call('renew', lock.key, () => this.#t.renewOnce(lock, ttl));
  }
  renewMany(locks: readonly HeldLock[]): Promise<Array<boolean | Error>> {
    return this.#t.renewManyOnce(locks);
  }
  abandon(lock: HeldLock): void {
    this.#t.abandoned(lock);
  }
  inspect(key: string): Promise<LockInfo | null> {
    return this.#call('inspect', key, () => this.#t.inspectOnce(key));
  }
  isTransient(error: unknown): boolean {
    return this.#t.isTransientError(error);
  }
  async close(): Promise<void> {
    await this.#t.closeBackend();
  }
  async #call<T>(operation: string, key: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw this.#t.wrapError(operation, key, error);
    }
  }
}

const placeholderCapabilities: LockCapabilities = Object.freeze({ ttlGranularityMs: 1, minTtlMs: 1, fencing: 'strict' });

function fromAttempt(a: AcquireAttempt): AcquireResult<unknown> {
  return a.acquired ? { acquired: true, fencingToken: a.fencingToken, data: a.data, ...(a.validFrom === undefined ? {} : { validFrom: a.validFrom }) } : a;
}
