import type {
  AcquireRequest,
  AcquireResult,
  ClaimKind,
  DriverFeatures,
  DriverHost,
  HeldLock,
  KeyHolders,
  LockDriver,
  RenewManyOptions,
} from '../engine/driver.js';
import type { LockCapabilities, LockInfo } from '../types.js';
import type { MemoryClaimStore } from './memory-claim-store.js';

/**
 * The memory backend of read-write locks and semaphores: a {@link MemoryClaimStore} shared by
 * every instance built on it. The store orders waiters (its wait list) and tells of every
 * release, expiry and departure, so waiters need no per-key subscription. No hand-over: a
 * release goes through the store, where the wait list decides who is next.
 */
export class MemoryClaimDriver implements LockDriver<undefined> {
  readonly backend = 'memory';
  readonly capabilities: LockCapabilities = Object.freeze({ ttlGranularityMs: 1, minTtlMs: 1, fencing: 'strict' });
  readonly features: DriverFeatures<undefined>;
  #placeTtl = 5_000;
  #unsubscribe: (() => void) | undefined;

  /** @param claims the claims this driver serves: `['exclusive', 'shared']` or `['permits']`. */
  constructor(
    readonly store: MemoryClaimStore,
    claims: readonly ClaimKind[],
  ) {
    this.features = Object.freeze({
      claims: Object.freeze([...claims]),
      waitList: { leave: (key: string, token: string) => this.store.leave(key, token) },
      inspectHolders: async (key: string): Promise<KeyHolders> => ({ key, ...this.store.holders(key) }),
    });
  }

  attach(host: DriverHost<undefined>): void {
    // A waiting caller comes back within max(retryAfter, 0) + max(maxRetryDelay, 100) ms; its
    // place is kept a few seconds beyond that.
    this.#placeTtl = Math.max(host.maxRetryDelay, 100) + 5_000;
    this.#unsubscribe = this.store.onRelease((key) => host.released(key));
  }

  async acquire({ key, token, ttl, claim, waiting }: AcquireRequest): Promise<AcquireResult<undefined>> {
    const r = this.store.acquire(key, token, ttl, claim, waiting === true, this.#placeTtl);
    return 'fence' in r ? { acquired: true, fencingToken: r.fence, data: undefined } : { acquired: false, retryAfter: r.retryAfter };
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
