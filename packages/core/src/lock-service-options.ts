import type { LockLostError } from './errors.js';
import type { LockEvent } from './lock-events.js';
import type { AcquireOptions, LockHandle } from './types.js';
import type { CoalesceOptions } from './coalesce/coalesce-options.js';

/** Options of {@link LockService}. */
export interface LockServiceOptions {
  /**
   * TTL for locks taken through the service when a call gives none, in ms.
   * @default the lock instance's default (30_000)
   */
  ttl?: number;
  /**
   * Renew locks held by `withLock`/`tryWithLock` at ttl/3 while the function runs.
   * @default true
   */
  autoRenew?: boolean;
  /**
   * Queue same-key callers of this process locally, so only one of them at a time talks to the
   * backend (fewer round trips and wake-ups under contention in one process). `true`, or
   * {@link CoalesceOptions} to also hand a held lock straight to the next local caller.
   * @default false
   */
  coalesce?: boolean | CoalesceOptions;
  /** Called when a lock held through the service is lost (lease expired, key taken away). */
  onLockLost?: (error: LockLostError, handle: LockHandle) => void;
  /** Called with every {@link LockEvent}; the same as `service.events.on('*', onEvent)`. */
  onEvent?: (event: LockEvent) => void;
}

/** Options of one `withLock`/`tryWithLock` call. */
export interface WithLockOptions extends AcquireOptions {
  /** Overrides the service's `autoRenew` for this call. */
  autoRenew?: boolean;
}

/** Options of one `withPermit` call: the semaphore's `limit`, and how many `permits` (default 1). */
export interface WithPermitOptions extends WithLockOptions {
  /** Most permits of the key held at once (see `SemaphoreOptions.limit`). */
  limit: number;
  /** Permits this run takes: an integer from 1 to `limit`. @default 1 */
  permits?: number;
}

/** Options of one `lead` call: those of `withLock`, plus the value to campaign with. */
export interface LeadOptions extends WithLockOptions {
  /** What the leader proclaims while `fn` runs (see `Election.campaign`). @default '' */
  value?: string;
}

/** What `tryWithLock` resolves to. */
export type TryWithLockResult<T> = { acquired: true; value: T } | { acquired: false };

/** The options `new LockService()` accepts (see {@link LockServiceOptions}). */
export const lockServiceOptionNames: readonly string[] = ['ttl', 'autoRenew', 'coalesce', 'onLockLost', 'onEvent'];
/** The options `withLock()`/`tryWithLock()` accept (see {@link WithLockOptions}). */
export const withLockOptionNames: readonly string[] = ['ttl', 'waitTimeout', 'signal', 'autoRenew'];
/** The options `lead()` accepts (see {@link LeadOptions}). */
export const leadOptionNames: readonly string[] = [...withLockOptionNames, 'value'];
/** The options `withPermit()` accepts (see {@link WithPermitOptions}). */
export const withPermitOptionNames: readonly string[] = [...withLockOptionNames, 'limit', 'permits'];
export function localOptions(options: WithLockOptions): { signal?: AbortSignal; waitTimeout?: number } {
  const o: { signal?: AbortSignal; waitTimeout?: number } = {};
  if (options.signal !== undefined) o.signal = options.signal;
  if (options.waitTimeout !== undefined) o.waitTimeout = options.waitTimeout;
  return o;
}


export { defaultCoalesceOptions, parseCoalesce, type CoalesceOptions } from './coalesce/coalesce-options.js';
