import { LockNotHeldError } from './errors.js';
import type { DistributedLock, LockHandle, RenewObserver } from './types.js';

/**
 * `autoRenew` for a `DistributedLock` written outside dlock: one timer per handle, renewing at
 * a third of the lease left (ttl/3 once renewed) through `lock.renew`, sooner again after a
 * failure, until the handle is released or lost or the returned function is called. dlock's own
 * locks batch renewals instead.
 *
 * @example
 * ```ts
 * class MyLock implements DistributedLock {
 *   autoRenew(handle: LockHandle, observer?: RenewObserver) {
 *     return renewOnTimer(this, handle, observer);
 *   }
 *   // ...
 * }
 * ```
 */
export function renewOnTimer(lock: Pick<DistributedLock, 'renew'>, handle: LockHandle, observer: RenewObserver = {}): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  /** A third of what is left of the lease now. */
  const third = () => Math.max(1, Math.floor((handle.validUntil - performance.now()) / 3));
  // The first renewal at a third of what is left (a handle passed late has less than its ttl).
  const every = third();
  const tick = () => {
    if (stopped || !handle.held) return;
    lock.renew(handle).then(
      () => {
        observer.renewed?.(handle);
        // A third of the renewed lease; never sooner than the first interval, so a lock whose
        // validUntil does not move on renew is not renewed in a tight loop.
        schedule(Math.max(every, third()));
      },
      (error: unknown) => {
        if (error instanceof LockNotHeldError) return;
        observer.renewFailed?.(handle, error instanceof Error ? error : new Error(String(error)));
        schedule(Math.max(10, Math.floor(every / 3)));
      },
    );
  };
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(tick, ms);
    timer.unref();
  };
  schedule(every);
  return () => {
    stopped = true;
    if (timer !== undefined) clearTimeout(timer);
  };
}

/**
 * `lock.autoRenew`, or {@link renewOnTimer} for a plain-JavaScript lock written before
 * `autoRenew` joined the interface. Decided once, where a lock enters dlock (TypeScript requires
 * the method; older JavaScript objects lack it).
 */
export function autoRenewOf(lock: Pick<DistributedLock, 'renew'> & Partial<Pick<DistributedLock, 'autoRenew'>>): DistributedLock['autoRenew'] {
  return typeof lock.autoRenew === 'function' ? lock.autoRenew.bind(lock) : (handle, observer) => renewOnTimer(lock, handle, observer);
}
