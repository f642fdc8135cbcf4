import type { AcquireOptions, DistributedLock, LockHandle, LockInfo } from '../types.js';
import { ClaimEngine } from './claim-engine.js';
import { EXCLUSIVE, type LockDriver } from './driver.js';

/**
 * The public lock API over a {@link LockDriver}: validation before any I/O, waiting (queued
 * locally, woken by release notifications, bounded by the holder's remaining lease, abortable,
 * riding out backend outages), validity on a monotonic clock, the lost-lock signal, the batched
 * watchdog, local hand-over, and close(). Every backend's lock class is an engine over its
 * driver: `class RedisLock extends LockEngine<RedisLockKeys>`. A mutex: every acquisition is
 * `exclusive` (the rest of the machinery is {@link ClaimEngine}'s, shared with read-write locks
 * and semaphores).
 *
 * @example
 * ```ts
 * class MyLock extends LockEngine<MyData> {
 *   constructor(options: LockEngineOptions = {}) {
 *     super(new MyDriver(), options, { names: [], what: 'new MyLock()' });
 *   }
 * }
 * ```
 */
export class LockEngine<D> extends ClaimEngine<D> implements DistributedLock {
  tryLock(key: string, options?: AcquireOptions): Promise<LockHandle | null> {
    return this.tryAcquireClaim(key, EXCLUSIVE, options);
  }

  lock(key: string, options?: AcquireOptions): Promise<LockHandle> {
    return this.acquireClaim(key, EXCLUSIVE, options);
  }

  async isLocked(key: string): Promise<boolean> {
    return (await this.inspect(key)) !== null;
  }

  inspect(key: string): Promise<LockInfo | null> {
    return this.inspectLock(key);
  }
}
