import { InvalidOptionError, lockEngineOptionNames, rejectUnknownOptions, validateTtl, type KnownOptions, type LockEngineOptions } from '@dlock/core';
import { defaultRedisLockOptions } from '../redis-lock.js';

/**
 * Options of `RedisReadWriteLock` and `RedisSemaphore`: those of `RedisLock` without hand-over
 * (a release goes through the server's wait list, which decides who is next).
 */
export interface RedisClaimOptions extends LockEngineOptions {
  /**
   * Namespace of every Redis name used: `<prefix>:{<key>}:holders`, `:queue`, `:claims`,
   * `:fence` and the channel `<prefix>:{<key>}:released`. Instances contend for the same keys
   * only when they share a prefix (and a server). Must not contain `{` or `}`.
   * @default 'dlock'
   * @example 'billing:rw'
   */
  prefix?: string;
  /**
   * Longest wait for the server's answer to one command, pipeline or subscription, in ms; then
   * the call fails with `LockBackendError` (cause: `RedisTimeoutError`).
   * @default 2_000
   */
  operationTimeout?: number;
  /**
   * How long a key's fence counter is kept after its last acquire or renewal (on top of the
   * lease), in ms; see `RedisLockOptions.fenceRetention`.
   * @default 3_600_000 (one hour)
   */
  fenceRetention?: number;
}

/** The validated Redis options a `RedisClaimDriver` runs with (see {@link RedisClaimOptions}). */
export interface RedisClaimSettings {
  readonly prefix: string;
  readonly operationTimeout: number;
  readonly fenceRetention: number;
}

/** The option names the Redis read-write lock and semaphore add to the engine's. */
const names: readonly string[] = Object.freeze(['prefix', 'operationTimeout', 'fenceRetention']);

/** How the constructor `what` names its own options in messages. */
export function claimKnownOptions(what: string): KnownOptions {
  return Object.freeze({ names, what });
}

/** The Redis options, validated before anything connects (a misspelt name is reported first). */
export function resolveClaimSettings(options: unknown, known: KnownOptions): RedisClaimSettings {
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new InvalidOptionError('options', 'an object or undefined', options);
  }
  rejectUnknownOptions(options, [...lockEngineOptionNames, ...known.names], known.what);
  const o = (options ?? {}) as RedisClaimOptions;
  const prefix = o.prefix ?? defaultRedisLockOptions.prefix;
  if (typeof prefix !== 'string' || /[{}]/.test(prefix)) throw new InvalidOptionError('prefix', 'a string without "{" or "}"', prefix);
  return {
    prefix,
    operationTimeout:
      o.operationTimeout === undefined ? defaultRedisLockOptions.operationTimeout : validateTtl(o.operationTimeout, 'operationTimeout'),
    fenceRetention: o.fenceRetention === undefined ? defaultRedisLockOptions.fenceRetention : validateTtl(o.fenceRetention, 'fenceRetention'),
  };
}
