import type { AcquireRequest, AcquireResult, DriverFeatures, DriverHost, HeldLock, LockDriver, RenewManyOptions } from '../engine/driver.js';
import type { LockCapabilities, LockInfo } from '../types.js';
import type { MemoryLockStore } from './memory-store.js';

/**
 * The memory backend as a driver: a {@link MemoryLockStore} shared by every lock built on it.
 * The store tells of every release and expiry, so waiters need no per-key subscription; a
 * held lock can pass straight to a local waiter (`transfer`).
 */
export class MemoryDriver implements LockDriver<undefined> {
  readonly backend = 'memory';
  readonly capabilities: LockCapabilities = Object.freeze({ ttlGranularityMs: 1, minTtlMs: 1, fencing: 'strict' });
  readonly features: DriverFeatures<undefined>;
  #unsubscribe: (() => void) | undefined;

  constructor(readonly store: MemoryLockStore) {
    this.features = Object.freeze({
      claims: ['exclusive'] as const,
      transfer: (lock: HeldLock<undefined>, token: string, ttl: number) => this.transfer(lock, token, ttl),
    });
  }

  /** The `transfer` feature: hands `lock` to `token` in one step (see `DriverFeatures.transfer`). */
  async transfer(lock: HeldLock<undefined>, token: string, ttl: number): Promise<AcquireResult<undefined>> {
    return toResult(this.store.transfer(lock.key, lock.token, token, ttl));
  }

  attach(host: DriverHost<undefined>): void {
    this.#unsubscribe = this.store.onRelease((key) => host.released(key));
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult<undefined>> {
    return toResult(this.store.acquire(request.key, request.token, request.ttl));
  }

  async release(lock: HeldLock<undefined>): Promise<boolean> {
    return this.store.release(lock.key, lock.token);
  }

  async renew(lock: HeldLock<undefined>, ttl: number): Promise<boolean> {
    return this.store.renew(lock.key, lock.token, ttl);
  }

  async renewMany(locks: readonly HeldLock<undefined>[], options?: RenewManyOptions): Promise<Array<boolean | Error>> {
    const pace = options?.pace;
    const results = new Array<boolean | Error>(locks.length);
    for (let i = 0; i < locks.length; i++) {
      const lock = locks[i]!;
      results[i] = this.store.renew(lock.key, lock.token, lock.ttl);
      const turn = pace?.();
      if (turn !== undefined) await turn;
    }
    return results;
  }

  abandon(lock: HeldLock<undefined>): void {
    this.store.release(lock.key, lock.token);
  }

  async inspect(key: string): Promise<LockInfo | null> {
    return this.store.inspect(key);
  }

  isTransient(): boolean {
    return true;
  }

  async close(): Promise<void> {
    this.#unsubscribe?.();
  }
}

/** A store answer as an acquire result. */
function toResult(r: { fence: bigint } | { retryAfter: number }): AcquireResult<undefined> {
  return 'fence' in r ? { acquired: true, fencingToken: r.fence, data: undefined } : { acquired: false, retryAfter: r.retryAfter };
}
