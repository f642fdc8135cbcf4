import { BaseLock, type AcquireAttempt, type BaseLockOptions } from '../base-lock.js';
import type { HeldLock } from '../handle.js';
import type { LockCapabilities, LockInfo } from '../types.js';
import { defaultMemoryStore, MemoryLockStore } from './memory-store.js';

/** Options of {@link MemoryLock}. */
export interface MemoryLockOptions extends BaseLockOptions {
  /**
   * Where the locks live. Instances on one store exclude each other.
   * @default the process-wide default store
   */
  store?: MemoryLockStore;
}

/**
 * The whole lock contract inside one process: TTL, fencing tokens, FIFO waiting with prompt
 * wake-up, abort and timeout. The embedded default: start without any server, switch the
 * backend later without touching the code that locks.
 *
 * @example
 * ```ts
 * const lock = new MemoryLock();
 * await using handle = await lock.lock('device:42', { ttl: 5_000 });
 * ```
 */
export class MemoryLock extends BaseLock {
  readonly backend = 'memory';
  readonly capabilities: LockCapabilities = Object.freeze({ ttlGranularityMs: 1, minTtlMs: 1, fencing: 'strict' });
  readonly store: MemoryLockStore;
  readonly #unsubscribe: () => void;

  constructor(options: MemoryLockOptions = {}) {
    super(options, { names: ['store'], what: 'new MemoryLock()' });
    this.store = options.store ?? defaultMemoryStore;
    this.#unsubscribe = this.store.onRelease((key) => this.notifyReleased(key));
  }

  protected async acquireOnce(key: string, token: string, ttl: number): Promise<AcquireAttempt> {
    const r = this.store.acquire(key, token, ttl);
    return toAttempt(r);
  }

  protected override async transferOnce(lock: HeldLock, token: string, ttl: number): Promise<AcquireAttempt> {
    const r = this.store.transfer(lock.key, lock.token, token, ttl);
    return toAttempt(r);
  }

  protected async releaseOnce(lock: HeldLock): Promise<boolean> {
    return this.store.release(lock.key, lock.token);
  }

  protected async renewOnce(lock: HeldLock, ttl: number): Promise<boolean> {
    return this.store.renew(lock.key, lock.token, ttl);
  }

  protected async inspectOnce(key: string): Promise<LockInfo | null> {
    return this.store.inspect(key);
  }

  protected override closeBackend(): void {
    this.#unsubscribe();
  }
}

/** A store answer as a BaseLock attempt. */
function toAttempt(r: { fence: bigint } | { retryAfter: number }): AcquireAttempt {
  return 'fence' in r ? { acquired: true, fencingToken: r.fence } : { acquired: false, retryAfter: r.retryAfter };
}
