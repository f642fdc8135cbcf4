import {
  InvalidOptionError,
  LockEngine,
  lockEngineOptionNames,
  rejectUnknownOptions,
  validateTtl,
  type HandOverOptions,
  type KnownOptions,
  type LockEngineOptions,
} from '@dlock/core';
import { redisLockKeys, type RedisLockKeys } from '@dlock/redis/protocol';
import type { RedisOptions } from 'ioredis';
import { RedisDriver, type RedisDriverSettings } from './redis-driver.js';
import type { RedisLockClient } from './types.js';

/** Options of {@link RedisLock}. */
export interface RedisLockOptions extends LockEngineOptions, HandOverOptions {
  /**
   * Namespace of every Redis name this lock uses: `<prefix>:{<key>}` (the lock),
   * `<prefix>:{<key>}:fence` (the fencing counter), `<prefix>:{<key>}:released` (the channel).
   * Instances contend for the same locks only when they share a prefix (and a server). Must not
   * contain `{` or `}` (they would move the Cluster hash tag).
   * @default 'dlock'
   * @example 'billing:locks'
   */
  prefix?: string;
  /**
   * Longest wait for the server's answer to one command, pipeline or subscription, in ms. A
   * server that is down or paused makes the call fail with `LockBackendError` (cause:
   * `RedisTimeoutError`) after this long, instead of waiting in ioredis's offline queue.
   * `lock()` runs at most one command at a time, so it rejects no later than `waitTimeout`
   * plus this.
   * @default 2_000
   * @example 500
   */
  operationTimeout?: number;
  /**
   * How long a key's fence counter is kept after its last acquire or renewal (on top of the
   * lease), in ms. A counter that expired is started again from the server's clock in
   * microseconds, which is above every token handed out before, so tokens keep increasing; the
   * retention only has to outlast a backwards step of the Redis server's clock. Longer costs
   * memory: one small key per distinct lock key used within the retention.
   * @default 3_600_000 (one hour)
   * @example 86_400_000
   */
  fenceRetention?: number;
  /**
   * Waiters of every process take the lock in the order they came (a wait list per key on the
   * server, under the key's hash tag): a release wakes exactly the waiter first in line, in
   * whichever process it is, and a waiter that dies loses its place a few seconds after it
   * stopped coming back. A releasing holder passes the lock straight to a waiter of its own
   * (`maxLocalHandOvers`) only when that waiter is first in line. `false` lets waiters race for
   * a released lock as plain `SET NX` does, and a releasing holder pass it to its own next
   * waiter whoever waits elsewhere: more hand-offs per second on a key with an empty critical
   * section, but one process can starve the others (see the README's fairness section).
   * @default true
   */
  fair?: boolean;
}

/**
 * Defaults of {@link RedisLockOptions} (the inherited `defaultTtl` is 30 000 ms and
 * `maxRetryDelay` 1 000 ms, see `LockEngineOptions`).
 *
 * @example
 * ```ts
 * new RedisLock(client, { operationTimeout: defaultRedisLockOptions.operationTimeout * 2 });
 * ```
 */
export const defaultRedisLockOptions = Object.freeze({ prefix: 'dlock', operationTimeout: 2_000, fenceRetention: 3_600_000, fair: true });

/**
 * A distributed lock on one Redis server (or Redis Cluster), through ioredis. Each acquire is
 * one Lua call that also hands out a strictly increasing fencing token; waiters sleep until a
 * release is published on the key's channel (or the holder's lease would end), and the
 * watchdog renews all locks of the instance in one pipeline per tick.
 *
 * Pass an ioredis `Redis` or `Cluster` you own (it stays open on `close()`), or ioredis options
 * or a URL (the lock creates the client and closes it on `close()`).
 *
 * @example
 * ```ts
 * import { RedisLock } from '@dlock/redis';
 *
 * await using lock = new RedisLock('redis://127.0.0.1:6379', { prefix: 'myapp' }); // closed at block end
 * await using handle = await lock.lock('invoice:42', { ttl: 10_000, waitTimeout: 5_000 });
 * await db.invoices.update(42, { status: 'paid' }, { fence: handle.fencingToken });
 * ```
 */
export class RedisLock extends LockEngine<RedisLockKeys> {
  /** The client commands go through (yours, or the one created from your options). */
  readonly client: RedisLockClient;
  /** See {@link RedisLockOptions.prefix}. */
  readonly prefix: string;
  /** See {@link RedisLockOptions.operationTimeout}. */
  readonly operationTimeout: number;
  /** See {@link RedisLockOptions.fenceRetention}. */
  readonly fenceRetention: number;
  /** See {@link RedisLockOptions.fair}. */
  readonly fair: boolean;

  /**
   * @param client an ioredis `Redis` or `Cluster` (not closed by `close()`), or ioredis
   *   `RedisOptions` / a `redis://` / `rediss://` URL to create one (closed by `close()`).
   * @param options prefix, operation timeout, default TTL and retry bound.
   */
  constructor(client: RedisLockClient | RedisOptions | string, options: RedisLockOptions = {}) {
    const settings = resolveRedisSettings(options);
    // The engine validates its options, then attaches the driver, which only then connects.
    const driver = new RedisDriver(client, settings);
    super(driver, options, known);
    this.client = driver.client;
    this.prefix = settings.prefix;
    this.operationTimeout = settings.operationTimeout;
    this.fenceRetention = settings.fenceRetention;
    this.fair = settings.fair;
  }

  /** The Redis names used for `key` (for debugging, or for other programs speaking the protocol). */
  keysFor(key: string): RedisLockKeys {
    return redisLockKeys(this.prefix, key);
  }
}

const known: KnownOptions = Object.freeze({ names: Object.freeze(['prefix', 'operationTimeout', 'fenceRetention', 'fair']), what: 'new RedisLock()' });

/**
 * The Redis options, validated before anything connects. A misspelt name is reported first,
 * as the engine would (Redis hands over, so `maxLocalHandOvers` is one of its options).
 */
function resolveRedisSettings(options: RedisLockOptions | undefined): RedisDriverSettings {
  rejectUnknownOptions(options, [...lockEngineOptionNames, 'maxLocalHandOvers', ...known.names], known.what);
  const o = options ?? {};
  return {
    prefix: validatePrefix(o.prefix ?? defaultRedisLockOptions.prefix),
    operationTimeout:
      o.operationTimeout === undefined ? defaultRedisLockOptions.operationTimeout : validateTtl(o.operationTimeout, 'operationTimeout'),
    fenceRetention:
      o.fenceRetention === undefined ? defaultRedisLockOptions.fenceRetention : validateTtl(o.fenceRetention, 'fenceRetention'),
    fair: validateFair(o),
  };
}

function validateFair(o: RedisLockOptions): boolean {
  const fair = o.fair ?? defaultRedisLockOptions.fair;
  if (typeof fair !== 'boolean') throw new InvalidOptionError('fair', 'a boolean', fair);
  return fair;
}

function validatePrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || /[{}]/.test(prefix)) {
    throw new InvalidOptionError('prefix', 'a string without "{" or "}"', prefix);
  }
  return prefix;
}
