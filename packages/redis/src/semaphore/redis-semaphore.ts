import { SemaphoreEngine } from '@dlock/core';
import type { RedisOptions } from 'ioredis';
import { RedisClaimDriver } from '../claims/claim-driver.js';
import type { RedisClaimKeys } from '../claims/keys.js';
import { claimKnownOptions, resolveClaimSettings, type RedisClaimOptions } from '../claims/options.js';
import type { RedisLockClient } from '../types.js';

/** Options of {@link RedisSemaphore}: prefix, operation timeout, fence retention and the engine's. */
export type RedisSemaphoreOptions = RedisClaimOptions;

const known = claimKnownOptions('new RedisSemaphore()');

/**
 * A counting semaphore on one Redis server (or Redis Cluster: every name of a key shares its
 * hash tag), through ioredis. At most `limit` permits of a key held at once across every process,
 * FIFO on the server (a large request is not overtaken by later small ones), a fencing token per
 * acquisition that strictly increases per key, waiting woken by pub/sub (no polling), renewals
 * batched per watchdog tick. Every caller of a key uses one limit while anyone holds or waits
 * (`SemaphoreLimitMismatchError` otherwise).
 *
 * @example
 * ```ts
 * await using sem = new RedisSemaphore('redis://127.0.0.1:6379');
 * await using permit = await sem.acquire('exports', { limit: 4, ttl: 30_000 });
 * await runExport({ signal: permit.signal });
 * ```
 */
export class RedisSemaphore extends SemaphoreEngine<RedisClaimKeys> {
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
  constructor(client: RedisLockClient | RedisOptions | string, options: RedisSemaphoreOptions = {}) {
    const settings = resolveClaimSettings(options, known);
    const driver = new RedisClaimDriver(client, settings, ['permits']);
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
