/** The Redis names of one lock; the same layout as `@dlock/redis`, hash-tagged by the key. */
export interface LockKeys {
  /** `<prefix>:{<key>}`: holds the owner token, with the lease as its PTTL. */
  readonly lock: string;
  /** `<prefix>:{<key>}:fence`: the node's fencing counter; never expires. */
  readonly fence: string;
  /** `<prefix>:{<key>}:released`: a release is announced here. */
  readonly channel: string;
}

/**
 * Names for `key`. Injective: lock names end in `}`, counters in `:fence`, release latches in
 * `:released:` and 32 hex digits, channels (their own namespace) in `:released`, so no key's
 * counter, latch or channel can collide with another key's lock.
 */
export function keysOf(prefix: string, key: string): LockKeys {
  const lock = `${prefix}:{${key}}`;
  return { lock, fence: `${lock}:fence`, channel: `${lock}:released` };
}

/**
 * `<prefix>:{<key>}:released:<token>`: the release latch one release of `token` leaves for a
 * short while after deleting the lock, so that a re-sent copy of that same release knows it
 * already ran (see `lua/release.lua`). Same hash tag as the lock.
 */
export function releaseLatchOf(keys: LockKeys, token: string): string {
  return `${keys.lock}:released:${token}`;
}
