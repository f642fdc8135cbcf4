/**
 * The Redis names one lock uses, in `@dlock/redis` and (on every node) in `@dlock/redlock`. All
 * share one hash tag, so they live in one Cluster slot.
 * @example
 * ```ts
 * const { lock } = redisLockKeys('dlock', 'job'); // 'dlock:{job}'
 * ```
 */
export interface RedisLockKeys {
  /** The lock: a string holding the holder's token, with the lease as its expiry. */
  readonly lock: string;
  /**
   * The fence counter. `@dlock/redis`: incremented by every successful acquire, kept for the
   * lease plus `fenceRetention`. `@dlock/redlock`: the node's fencing counter (raised by the
   * write-back round, never expires).
   */
  readonly fence: string;
  /** The pub/sub channel a release is published on. */
  readonly channel: string;
}

const needsEscape = /[%}]/;
const escapable = /[%}]/g;

/**
 * The hash tag of lock `key`: the key with `%` written as `%25` and `}` as `%7D`. Redis
 * Cluster hashes only the text between the first `{` and the next `}`: escaping `}` keeps a
 * user key such as `a}b` from ending the tag early (which would put `}b}` keys in another slot,
 * or an empty tag `{}` hash the whole name); escaping `%` keeps the encoding one-to-one, so
 * distinct keys never share names. Most keys are used unchanged.
 * @example
 * ```ts
 * hashTag('a}b%'); // 'a%7Db%25'
 * ```
 */
export function hashTag(key: string): string {
  return needsEscape.test(key) ? key.replace(escapable, (c) => (c === '%' ? '%25' : '%7D')) : key;
}

/**
 * The Redis names of lock `key` under `prefix`: `<prefix>:{<tag>}`, `<prefix>:{<tag>}:fence`
 * and the channel `<prefix>:{<tag>}:released`, where `<tag>` is `hashTag(key)`: the key with
 * `%` as `%25` and `}` as `%7D` (so a `}` cannot end the Cluster hash tag early).
 * One-to-one: lock names end in `}`, counters in `:fence`, release latches in `:released:`
 * and a token, channels (their own namespace) in `:released`, so no key's counter, latch or
 * channel can be another key's lock.
 *
 * Other programs that want to contend for the same locks must use the same names and scripts
 * (see `redisLockScripts`).
 *
 * @example
 * ```ts
 * redisLockKeys('dlock', 'device:42');
 * // { lock: 'dlock:{device:42}', fence: 'dlock:{device:42}:fence', channel: 'dlock:{device:42}:released' }
 * ```
 */
export function redisLockKeys(prefix: string, key: string): RedisLockKeys {
  const lock = `${prefix}:{${hashTag(key)}}`;
  return { lock, fence: `${lock}:fence`, channel: `${lock}:released` };
}

/**
 * The latch a release of `token` leaves behind briefly (see `lua/release.lua`):
 * `<prefix>:{<tag>}:released:<token>`, under the lock's hash tag.
 * @example
 * ```ts
 * releaseLatchKey(redisLockKeys('dlock', 'job'), token); // 'dlock:{job}:released:<token>'
 * ```
 */
export function releaseLatchKey(keys: RedisLockKeys, token: string): string {
  return `${keys.channel}:${token}`;
}
