import type { RedisLockKeys } from '@dlock/redis/protocol';

/** The Redis names of a fair lock's wait list (see `lua/fair-acquire.lua`), under the lock's hash tag. */
export interface RedisWaitListKeys {
  /** Sorted set: waiting token -> arrival number (FIFO order). */
  readonly waiters: string;
  /** Sorted set: waiting token -> end of its place (server time, ms). */
  readonly places: string;
}

/**
 * `<lock>:waiters` and `<lock>:places`: no other name dlock gives a key ends so (locks end in
 * `}`, counters in `:fence`, a read-write lock's or semaphore's sets in `:holders`, `:queue`
 * and `:claims`), and both share the lock's hash tag, so one script reads them with the lock.
 * @example
 * ```ts
 * redisWaitListKeys(redisLockKeys('dlock', 'job')).waiters; // 'dlock:{job}:waiters'
 * ```
 */
export function redisWaitListKeys(keys: RedisLockKeys): RedisWaitListKeys {
  return { waiters: `${keys.lock}:waiters`, places: `${keys.lock}:places` };
}
