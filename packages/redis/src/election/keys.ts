import { hashTag } from '@dlock/redis/protocol';

/** The Redis names one election uses, under one hash tag (one Cluster slot). */
export interface ElectionKeys {
  /** The leader: a hash `{token, value, term}` whose expiry is the leader's lease. */
  readonly leader: string;
  /** The counter that gives terms (and numbers every change for observers). */
  readonly counter: string;
  /** The pub/sub channel changes are published on. */
  readonly channel: string;
}

/**
 * The names of election `name` under `prefix`: `<prefix>:{<tag>}:leader`, `<prefix>:{<tag>}:term`
 * and the channel `<prefix>:{<tag>}:changed`, where `<tag>` is the name with `%` as `%25` and
 * `}` as `%7D` (as lock keys). None is the name of a lock key, counter or channel, so elections
 * and locks may share a prefix.
 *
 * @example
 * ```ts
 * redisElectionKeys('dlock:election', 'cron');
 * // { leader: 'dlock:election:{cron}:leader', counter: 'dlock:election:{cron}:term', channel: 'dlock:election:{cron}:changed' }
 * ```
 */
export function redisElectionKeys(prefix: string, name: string): ElectionKeys {
  const base = `${prefix}:{${hashTag(name)}}`;
  return { leader: `${base}:leader`, counter: `${base}:term`, channel: `${base}:changed` };
}

/**
 * The latch a resign of `token` leaves behind briefly (see `lua/resign.lua`), so that a copy of
 * the resign re-sent after a lost reply reports the resign, not a lost leadership:
 * `<prefix>:{<tag>}:leader:resigned:<token>`, under the election's hash tag.
 * @example
 * ```ts
 * resignLatchKey(redisElectionKeys('dlock:election', 'cron'), token); // 'dlock:election:{cron}:leader:resigned:<token>'
 * ```
 */
export function resignLatchKey(keys: ElectionKeys, token: string): string {
  return `${keys.leader}:resigned:${token}`;
}
