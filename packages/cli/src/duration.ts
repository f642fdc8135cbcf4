import { UsageError } from './usage-error.js';

const units: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/**
 * A duration flag's value in milliseconds: a whole number of ms (`1500`) or a number with a
 * unit, `ms`, `s`, `m` or `h` (`1.5s`, `2m`); the result is rounded up to a whole ms.
 *
 * @example
 * ```ts
 * parseDuration('--ttl', '10s'); // 10_000
 * ```
 */
export function parseDuration(flag: string, text: string, command?: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (match === null) {
    throw new UsageError(`${flag} must be a duration in ms (e.g. 1500) or with a unit (1.5s, 2m, 1h), got "${text}"`, command);
  }
  const ms = Math.ceil(Number(match[1]) * (units[match[2] ?? 'ms'] ?? 1));
  if (!Number.isSafeInteger(ms)) throw new UsageError(`${flag} is too large: "${text}"`, command);
  return ms;
}
