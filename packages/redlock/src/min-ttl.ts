import { InvalidOptionError, validateTtl } from '@dlock/core';

/** Redlock's shortest TTL with the default drift allowance, in ms (`capabilities.minTtlMs`). */
export const REDLOCK_MIN_TTL_MS = 10;

/**
 * The shortest TTL Redlock accepts: {@link REDLOCK_MIN_TTL_MS}, or more when the drift
 * allowance (`ttl * driftFactor + driftMs`) would leave a shorter lease no validity at all,
 * however fast the nodes answer. A TTL below it could never be acquired: `tryLock()` would
 * resolve `null` on a free key and `lock()` would wait for nothing.
 * @example
 * ```ts
 * minTtlOf(0.01, 2);  // 10
 * minTtlOf(0.01, 50); // 51: validity = ttl * 0.99 - 50 > 0 needs ttl > 50.5
 * ```
 */
export function minTtlOf(driftFactor: number, driftMs: number): number {
  // ttl - ttl * driftFactor - driftMs > 0  <=>  ttl > driftMs / (1 - driftFactor)
  const noValidityUpTo = Math.floor(driftMs / (1 - driftFactor) + 1e-9);
  return Math.max(REDLOCK_MIN_TTL_MS, noValidityUpTo + 1);
}

/**
 * Why a shorter TTL is refused, as `InvalidOptionError` messages say it (the driver's
 * `features.minTtl.reason`: `ttl must be an integer >= 10 (<this>), got 5 (number)`).
 */
export const MIN_TTL_REASON =
  "milliseconds; Redlock's minimum, capabilities.minTtlMs: a shorter lease has no validity left after the drift allowance";

/**
 * Validates a TTL as the core does (an integer in its range) and against Redlock's minimum
 * `min`; throws `InvalidOptionError` naming `option` and the value received. The engine checks
 * the TTL of every call (`features.minTtl`); this checks `defaultTtl` in the constructor.
 */
export function validateRedlockTtl(ttl: unknown, min: number, option = 'ttl'): number {
  const valid = validateTtl(ttl, option);
  if (valid < min) throw new InvalidOptionError(option, `an integer >= ${min} (${MIN_TTL_REASON})`, ttl);
  return valid;
}
