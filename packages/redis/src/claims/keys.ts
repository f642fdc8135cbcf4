import { hashTag } from '@dlock/redis/protocol';

/**
 * The Redis names of one read-write lock or semaphore key. All share the key's hash tag, so they
 * live in one Cluster slot and one script can read and change them together.
 */
export interface RedisClaimKeys {
  /** Sorted set: holder token -> end of its lease (server time, ms). */
  readonly holders: string;
  /** Sorted set: waiting caller's token -> arrival number (the FIFO wait list). */
  readonly queue: string;
  /**
   * Hash: token (holder or waiter) -> `'<kind> <permits> <limit> <n>'`, kind `x` (exclusive), `s`
   * (shared) or `p` (permits); `n` is a holder's fencing token or the end of a waiter's place.
   */
  readonly claims: string;
  /**
   * The key's fence counter: the same name as `RedisLock`'s for the key, so a mutex, read-write
   * lock and semaphore used on one key under one prefix hand out tokens from one sequence.
   */
  readonly fence: string;
  /** The pub/sub channel releases, expiries and departures are published on (the mutex's too). */
  readonly channel: string;
}

/**
 * The Redis names of read-write lock or semaphore `key` under `prefix`, with `<tag>` =
 * `hashTag(key)`: `<prefix>:{<tag>}:holders`, `:queue`, `:claims`, `:fence`, and the channel
 * `<prefix>:{<tag>}:released`. None of them is a name `RedisLock` gives a lock, so the two never
 * read each other's values.
 *
 * @example
 * ```ts
 * redisClaimKeys('dlock', 'catalog').holders; // 'dlock:{catalog}:holders'
 * ```
 */
export function redisClaimKeys(prefix: string, key: string): RedisClaimKeys {
  const base = `${prefix}:{${hashTag(key)}}`;
  return {
    holders: `${base}:holders`,
    queue: `${base}:queue`,
    claims: `${base}:claims`,
    fence: `${base}:fence`,
    channel: `${base}:released`,
  };
}

/** The latch a release of `token` leaves briefly (`<channel>:<token>`, as the mutex's). */
export function claimLatchKey(keys: RedisClaimKeys, token: string): string {
  return `${keys.channel}:${token}`;
}
