import { randomBytes } from 'node:crypto';
import {
  BaseLock,
  DlockError,
  InvalidOptionError,
  validateTtl,
  type AcquireAttempt,
  type BaseLockOptions,
  type HeldLock,
  type LockCapabilities,
  type LockInfo,
} from '@dlock/core';
import type { RedisOptions } from 'ioredis';
import { resolveClient, whenConnected } from './client.js';
import {
  UnexpectedReplyError,
  redisLockKeys,
  releaseLatchKey,
  type RedisLockKeys,
  type Script,
  type ScriptArg,
} from '@dlock/redis/protocol';
import { ReleaseSubscriber } from './release-subscriber.js';
import { renewBatch } from './renew-batch.js';
import { scripts, type AcquireReply } from './scripts.js';
import { SharedTimeout, withTimeout } from './timeout.js';
import { isTransientRedisError } from './transient.js';
import type { RedisLockClient } from './types.js';

/** Options of {@link RedisLock}. */
export interface RedisLockOptions extends BaseLockOptions {
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
}

/**
 * Defaults of {@link RedisLockOptions} (the inherited `defaultTtl` is 30 000 ms and
 * `maxRetryDelay` 1 000 ms, see `BaseLockOptions`).
 *
 * @example
 * ```ts
 * new RedisLock(client, { operationTimeout: defaultRedisLockOptions.operationTimeout * 2 });
 * ```
 */
export const defaultRedisLockOptions = Object.freeze({ prefix: 'dlock', operationTimeout: 2_000, fenceRetention: 3_600_000 });

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
export class RedisLock extends BaseLock {
  readonly backend = 'redis';
  readonly capabilities: LockCapabilities = Object.freeze({ ttlGranularityMs: 1, minTtlMs: 1, fencing: 'strict' });
  /** The client commands go through (yours, or the one created from your options). */
  readonly client: RedisLockClient;
  /** See {@link RedisLockOptions.prefix}. */
  readonly prefix: string;
  /** See {@link RedisLockOptions.operationTimeout}. */
  readonly operationTimeout: number;
  /** See {@link RedisLockOptions.fenceRetention}. */
  readonly fenceRetention: number;
  readonly #ownsClient: boolean;
  readonly #lastConnectionError: () => Error | undefined;
  /** Removes the listeners this lock added to a client it does not own. */
  readonly #detachClient: () => void;
  readonly #subscriber: ReleaseSubscriber;
  readonly #timeout: SharedTimeout;
  /** Published with this instance's releases: its subscriber skips them (see releaseOnce). */
  readonly #instanceId = randomBytes(8).toString('hex');

  /**
   * @param client an ioredis `Redis` or `Cluster` (not closed by `close()`), or ioredis
   *   `RedisOptions` / a `redis://` / `rediss://` URL to create one (closed by `close()`).
   * @param options prefix, operation timeout, default TTL and retry bound.
   */
  constructor(client: RedisLockClient | RedisOptions | string, options: RedisLockOptions = {}) {
    super(options, { names: ['prefix', 'operationTimeout', 'fenceRetention'], what: 'new RedisLock()' });
    this.prefix = validatePrefix(options.prefix ?? defaultRedisLockOptions.prefix);
    this.operationTimeout =
      options.operationTimeout === undefined
        ? defaultRedisLockOptions.operationTimeout
        : validateTtl(options.operationTimeout, 'operationTimeout');
    this.fenceRetention =
      options.fenceRetention === undefined
        ? defaultRedisLockOptions.fenceRetention
        : validateTtl(options.fenceRetention, 'fenceRetention');
    const resolved = resolveClient(client);
    this.client = resolved.client;
    this.#ownsClient = resolved.owned;
    this.#lastConnectionError = resolved.lastConnectionError;
    this.#detachClient = resolved.dispose;
    this.#timeout = new SharedTimeout(this.operationTimeout);
    this.#subscriber = new ReleaseSubscriber(
      () => this.client.duplicate(),
      (key, message) => {
        if (message !== this.#instanceId) this.notifyReleased(key);
      },
      this.operationTimeout,
      () => whenConnected(this.client, this.operationTimeout),
    );
  }

  /** The Redis names used for `key` (for debugging, or for other programs speaking the protocol). */
  keysFor(key: string): RedisLockKeys {
    return redisLockKeys(this.prefix, key);
  }

  protected async acquireOnce(key: string, token: string, ttl: number): Promise<AcquireAttempt> {
    const keys = redisLockKeys(this.prefix, key);
    let result: AcquireReply;
    try {
      result = await this.#call(scripts.acquire, [keys.lock, keys.fence, token, ttl, ttl + this.fenceRetention]);
    } catch (error) {
      if (!(error instanceof UnexpectedReplyError)) this.#releaseLater(keys, token);
      throw error;
    }
    if (result.acquired) return { acquired: true, fencingToken: result.fencingToken, data: keys };
    // While release messages may be missed (subscriber reconnecting), do not sleep through the
    // holder's whole lease: poll at most every maxRetryDelay.
    const retryAfter = this.#subscriber.live || result.pttl < 0 ? result.pttl : Math.min(result.pttl, this.maxRetryDelay);
    return { acquired: false, retryAfter };
  }

  /**
   * Owner-checked delete and publish, safe to re-send: a copy that ioredis sends again after a
   * reconnect finds the release latch its first run left and reports the release, not a loss.
   * A successful release wakes this instance's next waiter
   * for the key at once, a pub/sub round trip sooner than its own message would, which it
   * recognises by the instance id and skips. Other processes act on the message.
   */
  protected async releaseOnce(lock: HeldLock): Promise<boolean> {
    const keys = this.#keysOf(lock);
    const args = [keys.lock, releaseLatchKey(keys, lock.token), lock.token, keys.channel, this.#instanceId, this.#latchMs] as const;
    const released = await this.#call(scripts.release, args);
    if (released) this.notifyReleased(lock.key);
    return released;
  }

  /** unlock() with a waiter of this instance queued: the acquire script takes the lock over from `lock` for it (see BaseLock). */
  protected override async transferOnce(lock: HeldLock, token: string, ttl: number): Promise<AcquireAttempt> {
    const keys = this.#keysOf(lock);
    const result = await this.#call(scripts.acquire, [keys.lock, keys.fence, token, ttl, ttl + this.fenceRetention, lock.token]);
    return result.acquired ? { acquired: true, fencingToken: result.fencingToken, data: keys } : { acquired: false, retryAfter: result.pttl };
  }

  protected async renewOnce(lock: HeldLock, ttl: number): Promise<boolean> {
    const keys = this.#keysOf(lock);
    return this.#call(scripts.renew, [keys.lock, keys.fence, lock.token, ttl, ttl + this.fenceRetention]);
  }

  protected async inspectOnce(key: string): Promise<LockInfo | null> {
    const keys = redisLockKeys(this.prefix, key);
    const held = await this.#call(scripts.inspect, [keys.lock, keys.fence]);
    return held === null ? null : { key, holder: held.token.slice(0, 8), ttlRemaining: held.pttl, fencingToken: held.fence };
  }

  /** All renewals of a watchdog tick in one pipeline (one per node on a Cluster). */
  protected override renewManyOnce(locks: readonly HeldLock[]): Promise<Array<boolean | Error>> {
    const renewals = locks.map((lock) => {
      const keys = this.#keysOf(lock);
      return { lockKey: keys.lock, fenceKey: keys.fence, token: lock.token, ttl: lock.ttl, keepFence: lock.ttl + this.fenceRetention };
    });
    return renewBatch(this.client, renewals, this.operationTimeout);
  }

  protected override watchReleases(key: string): Promise<void> {
    return this.#subscriber.watch(redisLockKeys(this.prefix, key).channel, key);
  }

  protected override unwatchReleases(key: string): void {
    this.#subscriber.unwatch(redisLockKeys(this.prefix, key).channel);
  }

  /** While the client cannot connect, a failure names the connection error behind it. */
  protected override wrapError(operation: string, key: string, error: unknown): Error {
    const last = this.#lastConnectionError();
    if (last === undefined || !(error instanceof Error) || error === last || error instanceof DlockError) {
      return super.wrapError(operation, key, error);
    }
    return super.wrapError(operation, key, new Error(`${error.message} (last connection error: ${last.message})`, { cause: error }));
  }

  protected override async closeBackend(): Promise<void> {
    this.#subscriber.close();
    if (!this.#ownsClient) {
      // Yours stays open, with the listeners it had before this lock.
      this.#detachClient();
      return;
    }
    try {
      await withTimeout(this.client.quit(), this.operationTimeout, 'quit');
    } catch {
      // Unreachable server: drop the connection below.
    } finally {
      this.client.disconnect();
    }
  }

  /**
   * How long a release latch lives: longer than any copy of the release can still be answered
   * to a caller waiting for it (each call gives up after `operationTimeout`).
   */
  get #latchMs(): number {
    return this.operationTimeout * 2;
  }

  /** Connection failures and timeouts may pass; an error reply such as NOAUTH will not. */
  protected override isTransientError(error: unknown): boolean {
    return isTransientRedisError(error);
  }

  #call<Args extends readonly ScriptArg[], Reply>(script: Script<Args, Reply>, args: Args): Promise<Reply> {
    return this.#timeout.bound(script.run(this.client, args), script.name);
  }

  #keysOf(lock: HeldLock): RedisLockKeys {
    return (lock.data as RedisLockKeys | undefined) ?? redisLockKeys(this.prefix, lock.key);
  }

  /**
   * An acquire that failed with a timeout or a dropped connection may still reach the server
   * and take the lock for a token nobody holds, blocking the key for a whole TTL. A release of
   * that token, sent right behind it on the same connection, undoes it. Best effort, unbounded
   * (it must not overtake the acquire), and harmless when the acquire never ran.
   */
  #releaseLater(keys: RedisLockKeys, token: string): void {
    // Published with an empty message: this instance's own waiters must hear of it too.
    const args = [keys.lock, releaseLatchKey(keys, token), token, keys.channel, '', this.#latchMs] as const;
    scripts.release.run(this.client, args).catch(() => undefined);
  }
}

function validatePrefix(prefix: unknown): string {
  if (typeof prefix !== 'string' || /[{}]/.test(prefix)) {
    throw new InvalidOptionError('prefix', 'a string without "{" or "}"', prefix);
  }
  return prefix;
}
