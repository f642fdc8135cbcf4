import type { Clock } from '../clock.js';
import { monotonicClock } from '../clock.js';
import { InvalidOptionError } from '../errors.js';
import { defaultLockOptions, rejectUnknownOptions, validateCount, validateTtl, validateWaitTimeout } from '../validate.js';

/** Options every lock accepts (the engine's; a backend adds its own). */
export interface LockEngineOptions {
  /**
   * TTL used when a call gives none, in ms.
   * @default 30_000
   */
  defaultTtl?: number;
  /**
   * Longest a waiter sleeps between attempts when the backend cannot say how long the holder's
   * lease has left, or when a release notification might have been missed. In ms.
   * @default 1_000
   */
  maxRetryDelay?: number;
  /** Monotonic time source (tests inject one). @default performance.now() */
  clock?: Clock;
  /**
   * How long `lock()` without a `waitTimeout` keeps retrying while the backend fails (connection
   * refused, timeouts, a server restarting), in ms; then it rejects with the last
   * `LockBackendError`, which names the failure. Failures are retried with exponential backoff
   * (50 ms doubling up to `maxRetryDelay`); any answer from the backend starts the count again.
   * A `lock()` with a `waitTimeout` retries until that deadline instead, and its
   * `LockAcquireTimeoutError` carries the last backend error as `cause`.
   * @default 30_000
   */
  unavailableTimeout?: number;
}

/** The option of backends that hand a held lock straight to a local waiter (memory, Redis). */
export interface HandOverOptions {
  /**
   * When `unlock()` finds a caller of this instance waiting for the same key, the lock passes to
   * it in one step (with a new fencing token) instead of a release plus that caller's acquire.
   * This bounds how many such hand-overs of one key may follow each other before a real release
   * gives waiters in other processes their chance. `0` turns hand-overs off.
   * @default 8
   */
  maxLocalHandOvers?: number;
}

/**
 * Options of the first engine-based locks, under their old name.
 * @deprecated use {@link LockEngineOptions} (plus {@link HandOverOptions} where a backend hands over).
 */
export type BaseLockOptions = LockEngineOptions & HandOverOptions;

/** Names of {@link LockEngineOptions}; a backend adds its own. */
export const lockEngineOptionNames: readonly string[] = Object.freeze(['defaultTtl', 'maxRetryDelay', 'clock', 'unavailableTimeout']);

/**
 * Names of {@link BaseLockOptions}.
 * @deprecated use {@link lockEngineOptionNames}.
 */
export const baseLockOptionNames: readonly string[] = Object.freeze([...lockEngineOptionNames, 'maxLocalHandOvers']);

/** The engine's options, resolved. */
export interface ResolvedEngineOptions {
  readonly defaultTtl: number;
  readonly maxRetryDelay: number;
  readonly clock: Clock;
  /** 0 when the driver cannot hand over. */
  readonly maxLocalHandOvers: number;
  readonly unavailableTimeout: number;
}

/** How a backend's constructor names its options, for messages about unknown ones. */
export interface KnownOptions {
  /** The backend's own option names (the engine's are added). */
  readonly names: readonly string[];
  /** How the constructor reads in messages: `'new RedisLock()'`. */
  readonly what: string;
}

/**
 * Validates `options` (unknown names included: a misspelt option is an `InvalidOptionError`
 * naming the closest one). `maxLocalHandOvers` is an option only of drivers that can hand over.
 */
export function resolveEngineOptions(options: unknown, known: KnownOptions, handsOver: boolean): ResolvedEngineOptions {
  if (options === undefined) options = {};
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object or undefined', options);
  }
  const engineNames = handsOver ? [...lockEngineOptionNames, 'maxLocalHandOvers'] : lockEngineOptionNames;
  rejectUnknownOptions(options, [...engineNames, ...known.names], known.what);
  const o = options as LockEngineOptions & HandOverOptions;
  return {
    defaultTtl: o.defaultTtl === undefined ? defaultLockOptions.ttl : validateTtl(o.defaultTtl, 'defaultTtl'),
    maxRetryDelay: o.maxRetryDelay === undefined ? 1_000 : validateTtl(o.maxRetryDelay, 'maxRetryDelay'),
    maxLocalHandOvers:
      !handsOver ? 0 : o.maxLocalHandOvers === undefined ? 8 : validateCount(o.maxLocalHandOvers, 'maxLocalHandOvers'),
    unavailableTimeout:
      o.unavailableTimeout === undefined ? 30_000 : validateWaitTimeout(o.unavailableTimeout, 'unavailableTimeout'),
    clock: o.clock ?? monotonicClock,
  };
}
