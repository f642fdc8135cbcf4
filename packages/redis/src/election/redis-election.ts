import { ElectionEngine, InvalidOptionError, lockEngineOptionNames, rejectUnknownOptions, validateTtl, type KnownOptions, type LockEngineOptions } from '@dlock/core';
import type { RedisOptions } from 'ioredis';
import type { RedisLockClient } from '../types.js';
import { RedisElectionDriver, type RedisElectionSettings } from './election-driver.js';
import { redisElectionKeys, type ElectionKeys } from './keys.js';

/** Options of {@link RedisElection}. */
export interface RedisElectionOptions extends LockEngineOptions {
  /**
   * Namespace of every Redis name the election uses: `<prefix>:{<name>}:leader` (the leader hash),
   * `<prefix>:{<name>}:term` (the term counter), `<prefix>:{<name>}:changed` (the channel).
   * Instances take part in the same elections when they share a prefix (and a server). Must not
   * contain `{` or `}`.
   * @default 'dlock:election'
   * @example 'billing:elections'
   */
  prefix?: string;
  /**
   * Longest wait for the server's answer to one command, pipeline or subscription, in ms.
   * @default 2_000
   */
  operationTimeout?: number;
  /**
   * How long an election's term counter is kept after its last campaign, renewal or change, on
   * top of the lease, in ms. A counter that expired starts again from the server's clock in
   * microseconds, above every term handed out before.
   * @default 3_600_000 (one hour)
   */
  fenceRetention?: number;
}

/** Defaults of {@link RedisElectionOptions}. */
export const defaultRedisElectionOptions = Object.freeze({ prefix: 'dlock:election', operationTimeout: 2_000, fenceRetention: 3_600_000 });

const known: KnownOptions = Object.freeze({
  names: Object.freeze(['prefix', 'operationTimeout', 'fenceRetention']),
  what: 'new RedisElection()',
});

/**
 * Leader election on one Redis server (or Redis Cluster), through ioredis. The leader is a hash
 * `{token, value, term}` whose expiry is its lease; the term comes from a counter under the same
 * hash tag, so it strictly increases per name. Candidates sleep until a resign is published on
 * the election's channel, or until the leader's lease would end; the watchdog renews every
 * leadership of the instance in one pipeline per tick; observers follow each change.
 *
 * Pass an ioredis `Redis` or `Cluster` you own (it stays open on `close()`), or ioredis options
 * or a URL (the election creates the client and closes it on `close()`).
 *
 * @example
 * ```ts
 * import { RedisElection } from '@dlock/redis';
 *
 * await using election = new RedisElection('redis://127.0.0.1:6379');
 * await using leadership = await election.campaign('nightly-report', os.hostname(), { ttl: 15_000 });
 * await runReport({ fence: leadership.term, signal: leadership.signal });
 * ```
 */
export class RedisElection extends ElectionEngine<ElectionKeys> {
  /** The client commands go through (yours, or the one created from your options). */
  readonly client: RedisLockClient;
  /** See {@link RedisElectionOptions.prefix}. */
  readonly prefix: string;

  constructor(client: RedisLockClient | RedisOptions | string, options: RedisElectionOptions = {}) {
    const settings = resolveSettings(options);
    const driver = new RedisElectionDriver(client, settings);
    super(driver, options, known);
    this.client = driver.client;
    this.prefix = settings.prefix;
  }

  /** The Redis names used for election `name`. */
  keysFor(name: string): ElectionKeys {
    return redisElectionKeys(this.prefix, name);
  }
}

function resolveSettings(options: RedisElectionOptions | undefined): RedisElectionSettings {
  rejectUnknownOptions(options, [...lockEngineOptionNames, ...known.names], known.what);
  const o = options ?? {};
  const prefix = o.prefix ?? defaultRedisElectionOptions.prefix;
  if (typeof prefix !== 'string' || /[{}]/.test(prefix)) throw new InvalidOptionError('prefix', 'a string without "{" or "}"', prefix);
  return {
    prefix,
    operationTimeout:
      o.operationTimeout === undefined ? defaultRedisElectionOptions.operationTimeout : validateTtl(o.operationTimeout, 'operationTimeout'),
    fenceRetention: o.fenceRetention === undefined ? defaultRedisElectionOptions.fenceRetention : validateTtl(o.fenceRetention, 'fenceRetention'),
  };
}
