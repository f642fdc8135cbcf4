import type {
  AcquireRequest,
  AcquireResult,
  DriverFeatures,
  DriverHost,
  HeldLock,
  LockDriver,
  RenewManyOptions,
  TransferResult,
} from '../engine/driver.js';
import type { LockCapabilities, LockInfo } from '../types.js';
import type { MemoryLockStore } from './memory-store.js';

/**
 * The memory backend as a driver: a {@link MemoryLockStore} shared by every lock built on it.
 * The store tells of every release and expiry (and who is first in line), so waiters need no
 * per-key subscription; the store's line per key orders the waiters of every instance (a wait
 * list), and a held lock passes straight to a local waiter (`transfer`) when that waiter is
 * first in line.
 */
export class MemoryDriver implements LockDriver<undefined> {
  readonly backend = 'memory';
  readonly capabilities: LockCapabilities = Object.freeze({ ttlGranularityMs: 1, minTtlMs: 1, fencing: 'strict' });
  readonly features: DriverFeatures<undefined>;
  #unsubscribe: (() => void) | undefined;

  constructor(readonly store: MemoryLockStore) {
    this.features = Object.freeze({
      claims: ['exclusive'] as const,
      waitList: Object.freeze({ leave: (key: string, token: string) => store.leave(key, token) }),
      transfer: (lock: HeldLock<undefined>, token: string, ttl: number) => this.transfer(lock, token, ttl),
    });
  }

  /**
   * The `transfer` feature: hands `lock` to `token` in one step when `token` is first in line,
   * else releases it (see `DriverFeatures.transfer`).
   */
  async transfer(lock: HeldLock<undefined>, token: string, ttl: number): Promise<TransferResult<undefined>> {
    const r = this.store.transfer(lock.key, lock.token, token, ttl);
    return 'declined' in r ? { acquired: false, released: true } : toResult(r);
  }

  attach(host: DriverHost<undefined>): void {
    this.#unsubscribe = this.store.onRelease((key, next) => host.released(key, next));
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult<undefined>> {
    return toResult(this.store.acquire(request.key, request.token, request.ttl, request.waiting === true));
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
