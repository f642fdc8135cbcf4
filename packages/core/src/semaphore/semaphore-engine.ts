import { requireFeatures, validatePermits } from '../engine/claim.js';
import { ClaimEngine } from '../engine/claim-engine.js';
import type { Claim, LockDriver } from '../engine/driver.js';
import type { KnownOptions, LockEngineOptions } from '../engine/options.js';
import { InvalidOptionError } from '../errors.js';
import type { AcquireOptions, LockHandle } from '../types.js';
import { rejectUnknownOptions } from '../validate.js';
import type { DistributedSemaphore, SemaphoreInfo, SemaphoreOptions } from './types.js';

/** The options `tryAcquire()` and `acquire()` accept. */
const semaphoreOptionNames: readonly string[] = ['limit', 'permits', 'ttl', 'waitTimeout', 'signal'];

/**
 * A counting semaphore over any driver that serves `permits` claims, orders its waiters on the
 * server (`waitList`, or a native `queue`) and reports holders (`inspectHolders`). Each
 * acquisition is one `{ kind: 'permits', permits, limit }` claim with its own handle; waiting,
 * renewal, the lost-lock signal and close are the engine's.
 */
export class SemaphoreEngine<D> extends ClaimEngine<D> implements DistributedSemaphore {
  constructor(driver: LockDriver<D>, options: LockEngineOptions | undefined, known: KnownOptions) {
    requireFeatures(driver, ['permits'], 'a semaphore');
    super(driver, options, known);
  }

  async tryAcquire(key: string, options: SemaphoreOptions): Promise<LockHandle | null> {
    const { claim, rest } = parseSemaphoreOptions(options);
    return this.tryAcquireClaim(key, claim, rest);
  }

  async acquire(key: string, options: SemaphoreOptions): Promise<LockHandle> {
    const { claim, rest } = parseSemaphoreOptions(options);
    return this.acquireClaim(key, claim, rest);
  }

  /** Same as {@link unlock}: gives the handle's permits back. */
  release(handle: LockHandle): Promise<void> {
    return this.unlock(handle);
  }

  async inspect(key: string): Promise<SemaphoreInfo | null> {
    const { holders, waiting } = await this.inspectHolders(key);
    if (holders.length === 0) return null;
    let used = 0;
    let limit = 0;
    let fencingToken = 0n;
    for (const h of holders) {
      if (h.claim.kind === 'permits') {
        used += h.claim.permits;
        limit = h.claim.limit;
      }
      if (h.fencingToken > fencingToken) fencingToken = h.fencingToken;
    }
    return { key, used, holders: holders.length, limit, fencingToken, waiting };
  }
}

/**
 * Validates a semaphore call's options (unknown names, `limit`, `permits`) and splits them into
 * the claim and the acquire options. Throws `InvalidOptionError` before any I/O.
 */
export function parseSemaphoreOptions(options: unknown): { claim: Claim; rest: AcquireOptions } {
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object with at least a limit ({ limit: 4 })', options);
  }
  rejectUnknownOptions(options, semaphoreOptionNames, 'tryAcquire()/acquire()');
  const { limit, permits = 1, ttl, waitTimeout, signal } = options as SemaphoreOptions;
  const checked = validatePermits(permits, limit);
  const claim: Claim = Object.freeze({ kind: 'permits', permits: checked.permits, limit: checked.limit });
  return { claim, rest: { ttl, waitTimeout, signal } };
}
