/**
 * The Redis names one lock uses. All three share one hash tag, so they live in one Cluster slot.
 * @example
 * ```ts
 * const { lock } = redisLockKeys('dlock', 'job'); // 'dlock:{job}'
 * ```
 */
export interface RedisLockKeys {
  /** The lock: a string holding the holder's token, with the lease as its expiry. */
  readonly lock: string;
  /** The fence counter: an integer incremented by every successful acquire; kept for the lease plus `fenceRetention`. */
  readonly fence: string;
  /** The pub/sub channel a release is published on. */
  readonly channel: string;
}

const needsEscape = /[%}]/;
const escapable = /[%}]/g;

/**
 * The Redis names of lock `key` under `prefix`: `<prefix>:{<tag>}`, `<prefix>:{<tag>}:fence`
 * and the channel `<prefix>:{<tag>}:released`, where `<tag>` is the key with `%` written as
 * `%25` and `}` as `%7D`. Redis Cluster hashes only the text between the first `{` and the
 * next `}`: escaping `}` keeps a user key such as `a}b` from ending the tag early (which would
 * put `}b}` keys in another slot, or an empty tag `{}` hash the whole name); escaping `%` keeps
 * the encoding one-to-one, so distinct keys never share names. Most keys are used unchanged.
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
/** The latch a release of `token` leaves behind briefly (see `release.lua`): `<lock>:released:<token>`. */
export function releaseLatchKey(keys: RedisLockKeys, token: string): string {
  return `${keys.channel}:${token}`;
}

export function redisLockKeys(prefix: string, key: string): RedisLockKeys {
  const tag = needsEscape.test(key) ? key.replace(escapable, (c) => (c === '%' ? '%25' : '%7D')) : key;
  const lock = `${prefix}:{${tag}}`;
  return { lock, fence: `${lock}:fence`, channel: `${lock}:released` };
}
