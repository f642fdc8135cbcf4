import { InvalidOptionError } from '../errors.js';
import { rejectUnknownOptions, validateCount, validateWaitTimeout } from '../validate.js';

/**
 * Local coalescing (`LockService` option `coalesce`, or {@link CoalescingLock} over any lock).
 * Same-key callers of one process queue
 * locally; with `handOver`, the holder whose function returned passes the backend lock on to the
 * next queued caller instead of releasing it and letting that caller acquire it again.
 *
 * A lock is handed over only while it is surely held for at least half its lease, was taken
 * with `autoRenew` (the watchdog keeps it alive across callers), the next caller asks for the
 * same `ttl` and `autoRenew`, and nobody read its `fencingToken`. A handed-over lock keeps its
 * `token` and `fencingToken` (a renewal cannot give a new one), and two holders must never fence
 * writes with one token: so reading `handle.fencingToken` makes the next caller acquire a lock,
 * and a new token, of its own. Read the token while holding the lock, not after `fn` returned.
 * The `acquired` event reports `handedOver` and the token without counting as a read (events are
 * not a fencing source).
 *
 * Fairness: after `maxHandOvers` hand-overs or `maxHandOverMs`, the lock is released at the
 * backend, and the next local caller pauses for about two release round trips before acquiring,
 * so that a waiter in another process (woken by the release a round trip later) gets the key.
 *
 * The handles a coalesced lock gives out are its own: release them with `handle.release()` (or
 * the coalescing lock's `unlock`), not the wrapped lock's `unlock`.
 *
 * @example
 * ```ts
 * new LockService(new RedisLock(redis), { coalesce: { handOver: true, maxHandOvers: 8 } });
 * ```
 */
export interface CoalesceOptions {
  /**
   * Hand a held lock to the next local caller of the same key, without a release and an
   * acquire at the backend in between.
   * @default false
   */
  handOver?: boolean;
  /**
   * Most consecutive hand-overs of one backend lock; then it is released at the backend, so
   * that other processes waiting for the key get their turn. An integer >= 0.
   * @default 16
   */
  maxHandOvers?: number;
  /**
   * Longest time, in ms from its acquisition, that one backend lock is passed on locally
   * (fairness towards other processes, like `maxHandOvers`). A finite number >= 0.
   * @default 100
   */
  maxHandOverMs?: number;
}

/** Defaults of {@link CoalesceOptions}. */
export const defaultCoalesceOptions = Object.freeze({ handOver: false, maxHandOvers: 16, maxHandOverMs: 100 });

/** The fields of a `coalesce` object (see {@link CoalesceOptions}). */
const coalesceOptionNames: readonly string[] = ['handOver', 'maxHandOvers', 'maxHandOverMs'];

/** `coalesce` as given -> the resolved options, or `undefined` when off. */
export function parseCoalesce(value: unknown): Required<CoalesceOptions> | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return { ...defaultCoalesceOptions };
  const expected = 'a boolean or { handOver?: boolean, maxHandOvers?: integer >= 0, maxHandOverMs?: number >= 0 }';
  if (typeof value !== 'object' || value === null) throw new InvalidOptionError('coalesce', expected, value);
  rejectUnknownOptions(value, coalesceOptionNames, 'the coalesce option');
  const { handOver, maxHandOvers, maxHandOverMs } = value as CoalesceOptions;
  if (handOver !== undefined && typeof handOver !== 'boolean') {
    throw new InvalidOptionError('coalesce.handOver', 'a boolean', handOver);
  }
  return {
    handOver: handOver ?? defaultCoalesceOptions.handOver,
    maxHandOvers: maxHandOvers === undefined ? defaultCoalesceOptions.maxHandOvers : validateCount(maxHandOvers, 'coalesce.maxHandOvers'),
    maxHandOverMs:
      maxHandOverMs === undefined ? defaultCoalesceOptions.maxHandOverMs : validateWaitTimeout(maxHandOverMs, 'coalesce.maxHandOverMs'),
  };
}

