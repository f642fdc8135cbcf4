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

/**
 * Throws `InvalidOptionError` when `options` has an own property that is not in `known` (and is
 * not `undefined`): in plain JavaScript a misspelt option (`{ timeout: 100 }` for `waitTimeout`)
 * would otherwise be ignored without a word. The message names the closest known option, when
 * one is close (`did you mean "waitTimeout"?`), and lists the known ones. `what` names the call
 * the options belong to, as the message shows it: `'tryLock()/lock()'`, `'new RedisLock()'`.
 * `undefined` passes; anything else that is not an object is rejected too.
 *
 * @example
 * ```ts
 * rejectUnknownOptions(options, ['prefix', 'operationTimeout'], 'new MyLock()');
 * ```
 */
export function rejectUnknownOptions(options: unknown, known: readonly string[], what: string): void {
  if (options === undefined) return;
  if (typeof options !== 'object' || options === null) {
    throw new InvalidOptionError('options', 'an object or undefined', options);
  }
  for (const name of Object.keys(options)) {
    const value = (options as Record<string, unknown>)[name];
    if (value === undefined || known.includes(name)) continue;
    const closest = closestName(name, known);
    const error = new InvalidOptionError(name, `one of the options of ${what}`, value);
    // The standard "<option> must be <expectation>, got <value>" reads badly for a wrong name.
    error.message =
      `unknown option "${name}" for ${what}` +
      (closest === undefined ? '' : `: did you mean "${closest}"?`) +
      ` (known options: ${known.join(', ')})`;
    throw error;
  }
}

/**
 * The entry of `known` closest to `name`, or undefined when none is close: the smallest
 * case-insensitive edit distance (insert, delete, substitute, swap two neighbours) among those
 * within 40% of the longer name's length, or that contain the other name (`timeout` and
 * `waitTimeout`). Ties go to the earlier entry.
 */
function closestName(name: string, known: readonly string[]): string | undefined {
  const a = name.toLowerCase();
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of known) {
    const b = candidate.toLowerCase();
    const distance = editDistance(a, b);
    const contains = Math.min(a.length, b.length) >= 3 && (a.includes(b) || b.includes(a));
    const close = distance <= Math.max(1, Math.floor(Math.max(a.length, b.length) * 0.4));
    if ((close || contains) && distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Optimal string alignment distance: Levenshtein plus transposition of two adjacent characters. */
function editDistance(a: string, b: string): number {
  let before = new Array<number>(b.length + 1).fill(0); // row i - 2
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j); // row i - 1
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      current.push(d);
    }
    before = previous;
    previous = current;
  }
  return previous[b.length]!;
}

/** The options `tryLock()` and `lock()` accept (see `AcquireOptions`). */
const acquireOptionNames: readonly string[] = ['ttl', 'waitTimeout', 'signal'];

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
  rejectUnknownOptions(options, acquireOptionNames, 'tryLock()/lock()');
  const o = options as AcquireOptions;
  return {
    ttl: o.ttl === undefined ? defaultTtl : validateTtl(o.ttl),
    waitTimeout: o.waitTimeout === undefined ? undefined : validateWaitTimeout(o.waitTimeout),
    signal: validateSignal(o.signal),
  };
}
