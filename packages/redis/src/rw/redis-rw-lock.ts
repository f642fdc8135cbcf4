import { ReadWriteLockEngine } from '@dlock/core';
import type { RedisOptions } from 'ioredis';
import { RedisClaimDriver } from '../claims/claim-driver.js';
import type { RedisClaimKeys } from '../claims/keys.js';
import { claimKnownOptions, resolveClaimSettings, type RedisClaimOptions } from '../claims/options.js';
import type { RedisLockClient } from '../types.js';

/** Options of {@link RedisReadWriteLock}: prefix, operation timeout, fence retention and the engine's. */
export type RedisReadWriteLockOptions = RedisClaimOptions;

const known = claimKnownOptions('new RedisReadWriteLock()');

/**
 * A read-write lock on one Redis server (or Redis Cluster: every name of a key shares its hash
 * tag), through ioredis. Many readers or one writer per key, writer-preferring FIFO across every
 * process (the wait list lives on the server), a fencing token per acquisition that strictly
 * increases per key across readers and writers, waiting woken by pub/sub, renewals batched per
 * watchdog tick.
 *
 * Pass an ioredis `Redis` or `Cluster` you own (it stays open on `close()`), or ioredis options
 * or a URL (the lock creates the client and closes it on `close()`).
 *
 * @example
 * ```ts
 * await using rw = new RedisReadWriteLock('redis://127.0.0.1:6379', { prefix: 'myapp' });
 * {
 *   await using read = await rw.readLock('catalog', { ttl: 5_000 });
 *   render(await catalog.load());
 * }
 * await using write = await rw.writeLock('catalog', { ttl: 5_000, waitTimeout: 10_000 });
 * await catalog.save(next, { fence: write.fencingToken });
 * ```
 */
export class RedisReadWriteLock extends ReadWriteLockEngine<RedisClaimKeys> {
  /** The client commands go through (yours, or the one created from your options). */
  readonly client: RedisLockClient;
  /** See {@link RedisClaimOptions.prefix}. */
  readonly prefix: string;
  /** See {@link RedisClaimOptions.operationTimeout}. */
  readonly operationTimeout: number;
  /** See {@link RedisClaimOptions.fenceRetention}. */
  readonly fenceRetention: number;
  readonly #driver: RedisClaimDriver;

  /**
   * @param client an ioredis `Redis` or `Cluster` (not closed by `close()`), or ioredis
   *   `RedisOptions` / a `redis://` / `rediss://` URL to create one (closed by `close()`).
   */
  constructor(client: RedisLockClient | RedisOptions | string, options: RedisReadWriteLockOptions = {}) {
    const settings = resolveClaimSettings(options, known);
    const driver = new RedisClaimDriver(client, settings, ['exclusive', 'shared']);
    super(driver, options, known);
    this.#driver = driver;
    this.client = driver.client;
    this.prefix = settings.prefix;
    this.operationTimeout = settings.operationTimeout;
    this.fenceRetention = settings.fenceRetention;
  }

  /** The Redis names used for `key` (for debugging, or for other programs speaking the protocol). */
  keysFor(key: string): RedisClaimKeys {
    return this.#driver.keysFor(key);
  }
}
