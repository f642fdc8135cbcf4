import { requireFeatures } from '../engine/claim.js';
import { ClaimEngine } from '../engine/claim-engine.js';
import { EXCLUSIVE, SHARED, type LockDriver } from '../engine/driver.js';
import type { KnownOptions, LockEngineOptions } from '../engine/options.js';
import type { AcquireOptions, LockHandle } from '../types.js';
import type { DistributedRWLock, RWLockInfo } from './types.js';

/**
 * A read-write lock over any driver that serves `shared` and `exclusive` claims, orders its
 * waiters on the server (`waitList`, or a native `queue`) and reports holders
 * (`inspectHolders`). Readers acquire `shared`, writers `exclusive`; waiting, renewal, the
 * lost-lock signal and close are the engine's. A backend's class is this engine over its driver.
 *
 * @example
 * ```ts
 * class RedisReadWriteLock extends ReadWriteLockEngine<RedisRWData> {
 *   constructor(client: Redis, options: RedisLockOptions = {}) {
 *     super(new RedisRWDriver(client, options), options, { names: ['prefix'], what: 'new RedisReadWriteLock()' });
 *   }
 * }
 * ```
 */
export class ReadWriteLockEngine<D> extends ClaimEngine<D> implements DistributedRWLock {
  constructor(driver: LockDriver<D>, options: LockEngineOptions | undefined, known: KnownOptions) {
    requireFeatures(driver, ['exclusive', 'shared'], 'a read-write lock');
    super(driver, options, known);
  }

  tryReadLock(key: string, options?: AcquireOptions): Promise<LockHandle | null> {
    return this.tryAcquireClaim(key, SHARED, options);
  }

  readLock(key: string, options?: AcquireOptions): Promise<LockHandle> {
    return this.acquireClaim(key, SHARED, options);
  }

  tryWriteLock(key: string, options?: AcquireOptions): Promise<LockHandle | null> {
    return this.tryAcquireClaim(key, EXCLUSIVE, options);
  }

  writeLock(key: string, options?: AcquireOptions): Promise<LockHandle> {
    return this.acquireClaim(key, EXCLUSIVE, options);
  }

  async inspect(key: string): Promise<RWLockInfo | null> {
    const { holders, waiting } = await this.inspectHolders(key);
    if (holders.length === 0) return null;
    let readers = 0;
    let writer = false;
    let fencingToken = 0n;
    for (const h of holders) {
      if (h.claim.kind === 'shared') readers += 1;
      else writer = true;
      if (h.fencingToken > fencingToken) fencingToken = h.fencingToken;
    }
    return { key, readers, writer, fencingToken, waiting };
  }
}
