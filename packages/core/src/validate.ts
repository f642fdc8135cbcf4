import { InvalidOptionError } from './errors.js';
import { MAX_TIMER_DELAY } from './sleep.js';
import type { AcquireOptions } from './types.js';

/** Longest key accepted, in UTF-8 bytes. Backends add a prefix of their own on top. */
export const MAX_KEY_BYTES = 1024;

/** Defaults used when neither the call nor the lock instance sets a value. */
export const defaultLockOptions = Object.freeze({
  /** Lease length in ms. */
  ttl: 30_000,
});

/**
 * Longest lease accepted, in ms: 2^31 - 1 (about 24.8 days), the longest delay a Node timer can
 * wait for the expiry and watchdog timers. Work that runs longer keeps a shorter lease renewed
 * (`LockService.withLock`, `autoRenew`).
 */
export const MAX_TTL_MS = MAX_TIMER_DELAY;

/**
 * A key is a non-empty, well-formed UTF-16 string of at most {@link MAX_KEY_BYTES} UTF-8 bytes.
 * A lone surrogate (`'\ud800'`) has no UTF-8 form: Redis and etcd would store it as U+FFFD, so
 * `'\ud800'`, `'\udfff'` and `'\ufffd'` would silently be one lock there and three in memory.
 */
export function validateKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0) {
    throw new InvalidOptionError('key', 'a non-empty string', key);
  }
  if (!key.isWellFormed()) {
    throw new InvalidOptionError('key', 'a well-formed UTF-16 string (no lone surrogate)', key);
  }
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) {
    throw new InvalidOptionError('key', `at most ${MAX_KEY_BYTES} UTF-8 bytes long`, key);
  }
  return key;
}

/** A TTL is an integer from 1 to {@link MAX_TTL_MS} (milliseconds). */
export function validateTtl(ttl: unknown, option = 'ttl'): number {
  if (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1 || ttl > MAX_TTL_MS) {
    throw new InvalidOptionError(option, `an integer from 1 to ${MAX_TTL_MS} (milliseconds, about 24.8 days)`, ttl);
  }
  return ttl;
}

/** A count is an integer >= `min` (0 unless given). */
export function validateCount(value: unknown, option: string, min = 0): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new InvalidOptionError(option, `an integer >= ${min}`, value);
  }
  return value;
}

/** A wait timeout is a finite number >= 0 (milliseconds). */
export function validateWaitTimeout(value: unknown, option = 'waitTimeout'): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidOptionError(option, 'a finite number >= 0 (milliseconds)', value);
  }
  return value;
}

/** `undefined`, or an `AbortSignal`. */
export function validateSignal(value: unknown, option = 'signal'): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) throw new InvalidOptionError(option, 'an AbortSignal', value);
  return value;
}

/** Acquire options after validation, with defaults applied. */
export interface ResolvedAcquireOptions {
  ttl: number;
  waitTimeout: number | undefined;
  signal: AbortSignal | undefined;
}

/** Validates `options` as a whole and fills in `defaultTtl`. Throws `InvalidOptionError`. */
export function resolveAcquireOptions(options: unknown, defaultTtl: number): ResolvedAcquireOptions {
  if (options === undefined) return { ttl: defaultTtl, waitTimeout: undefined, signal: undefined };
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object or undefined', options);
  }
  const o = options as AcquireOptions;
  return {
    ttl: o.ttl === undefined ? defaultTtl : validateTtl(o.ttl),
    waitTimeout: o.waitTimeout === undefined ? undefined : validateWaitTimeout(o.waitTimeout),
    signal: validateSignal(o.signal),
  };
}
