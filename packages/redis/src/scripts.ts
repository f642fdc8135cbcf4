import { createHash } from 'node:crypto';
import acquireLua from './lua/acquire.lua?raw';
import inspectLua from './lua/inspect.lua?raw';
import releaseLua from './lua/release.lua?raw';
import renewLua from './lua/renew.lua?raw';
import type { RedisLockClient, RedisPipelineLike, ScriptArg } from './types.js';

/**
 * A Lua script called by EVALSHA, with EVAL as the fallback when the server does not have it
 * cached (first use, restart, SCRIPT FLUSH, a new Cluster node); EVAL caches it again. Unlike
 * ioredis `defineCommand` this leaves the caller's client untouched, and works the same for a
 * single call, a pipeline and a Cluster.
 *
 * @example
 * ```ts
 * const ping = new LuaScript('ping', "return redis.call('PING')", 0);
 * await ping.run(client, []); // 'PONG': EVALSHA, or EVAL the first time
 * ```
 */
export class LuaScript {
  /** SHA1 of the source: what EVALSHA sends instead of the script. */
  readonly sha: string;

  constructor(
    /** Short name used in errors (`acquire`, `release`, ...). */
    readonly name: string,
    /** The Lua source. */
    readonly source: string,
    /** How many leading arguments are KEYS (the rest are ARGV). */
    readonly numberOfKeys: number,
  ) {
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Runs the script once on `client`. */
  async run(client: RedisLockClient, args: readonly ScriptArg[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, this.numberOfKeys, ...args);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      return client.eval(this.source, this.numberOfKeys, ...args);
    }
  }

  /** Queues an EVALSHA on `pipeline`. */
  queue(pipeline: RedisPipelineLike, args: readonly ScriptArg[]): void {
    pipeline.evalsha(this.sha, this.numberOfKeys, ...args);
  }

  /** Queues an EVAL (sends the source; the server caches it for later EVALSHAs). */
  queueSource(pipeline: RedisPipelineLike, args: readonly ScriptArg[]): void {
    pipeline.eval(this.source, this.numberOfKeys, ...args);
  }
}

/** The server answered `NOSCRIPT`: it does not have the script cached. */
export function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('NOSCRIPT');
}

/**
 * The four scripts of the Redis lock protocol (sources in `src/lua/*.lua`). Exported so other
 * programs can speak the same protocol: same key names ({@link redisLockKeys}), same scripts.
 *
 * @example
 * ```ts
 * const { lock, fence } = redisLockKeys('dlock', 'job');
 * const [acquired, fenceOrPttl] = await client.eval(redisLockScripts.acquire.source, 2, lock, fence, token, 30_000, 3_630_000);
 * ```
 */
export const redisLockScripts = Object.freeze({
  /**
   * KEYS: lock, fence. ARGV: token, ttl, fence keep (ttl + retention), and for a hand-over the
   * current holder's token. Returns `{1, fence}` or `{0, pttl}`.
   */
  acquire: new LuaScript('acquire', acquireLua, 2),
  /**
   * KEYS: lock, release latch (`releaseLatchKey`). ARGV: token, channel, message, latch ms.
   * Returns 1 (deleted and published, or already released by this token) or 0 (not held).
   */
  release: new LuaScript('release', releaseLua, 2),
  /** KEYS: lock, fence. ARGV: token, ttl, fence keep (ttl + retention). Returns 1 (extended) or 0 (lost). */
  renew: new LuaScript('renew', renewLua, 2),
  /** KEYS: lock, fence. Returns nil or `{token, pttl, fence}`. */
  inspect: new LuaScript('inspect', inspectLua, 2),
});
