import { randomBytes } from 'node:crypto';
import type {
  AcquireRequest,
  AcquireResult,
  DriverFeatures,
  DriverHost,
  HeldLock,
  TransferResult,
  WaitList,
  LockCapabilities,
  LockDriver,
  LockInfo,
  RenewManyOptions,
} from '@dlock/core';
import {
  UnexpectedReplyError,
  redisLockKeys,
  releaseLatchKey,
  type RedisLockKeys,
  type Script,
  type ScriptArg,
} from '@dlock/redis/protocol';
import { waitListPlaceMs } from '@dlock/core';
import type { RedisOptions } from 'ioredis';
import { RedisConnection } from './connection.js';
import { ReleaseSubscriber } from './release-subscriber.js';
import { renewBatch } from './renew-batch.js';
import { scripts, type AcquireReply } from './scripts.js';
import { isTransientRedisError } from './transient.js';
import { redisWaitListKeys } from './wait-list-keys.js';
import type { RedisLockClient } from './types.js';

/** The validated Redis options a {@link RedisDriver} runs with (see `RedisLockOptions`). */
export interface RedisDriverSettings {
  readonly prefix: string;
  readonly operationTimeout: number;
  readonly fenceRetention: number;
  /** Waiters of every process take the lock in arrival order (see `RedisLockOptions.fair`). */
  readonly fair: boolean;
}

/** What the driver has once an engine attached it: the engine, and the client it connected. */
interface Attached {
  readonly host: DriverHost<RedisLockKeys>;
  /** How long a waiter's place outlives an answer's retry delay, in ms (fair mode). */
  readonly placeMs: number;
}

/**
 * The Redis protocol as a lock driver: one Lua call per acquire (with its fencing token), an
 * owner-checked release that publishes on the key's channel, renewals of a watchdog tick in one
 * pipeline (per node on a Cluster), release messages through one subscriber connection, and
 * hand-over to a local waiter by the acquire script. What it keeps per lock is the lock's
 * Redis names ({@link RedisLockKeys}).
 *
 * The client is resolved when an engine attaches the driver, that is after the engine has
 * validated every option: a constructor that throws never leaves a connection open.
 */
export class RedisDriver implements LockDriver<RedisLockKeys> {
  readonly backend = 'redis';
  readonly capabilities: LockCapabilities = Object.freeze({ ttlGranularityMs: 1, minTtlMs: 1, fencing: 'strict' });
  readonly features: DriverFeatures<RedisLockKeys>;
  readonly #settings: RedisDriverSettings;
  readonly #subscriber: ReleaseSubscriber;
  readonly #connection: RedisConnection;
  /** Published with this instance's releases: its subscriber skips them (see release). */
  readonly #instanceId = randomBytes(8).toString('hex');
  /** Tokens of waiting callers that took a place (fair mode): until they acquire or leave. */
  readonly #placed = new Set<string>();
  #attached: Attached | undefined;

  /**
   * @param source an ioredis client (used as is, never closed), or ioredis options or a URL
   *   (a client is created on attach and closed by `close()`).
   * @param settings validated prefix, operation timeout and fence retention.
   */
  constructor(source: RedisLockClient | RedisOptions | string, settings: RedisDriverSettings) {
    this.#settings = settings;
    this.#connection = new RedisConnection(source, settings.operationTimeout, 'RedisDriver');
    this.#subscriber = new ReleaseSubscriber(
      () => this.client.duplicate(),
      (key, message) => {
        // '<instance id>' or '<instance id> <token of the first waiter>' (fair mode), or ''.
        const space = message.indexOf(' ');
        const from = space < 0 ? message : message.slice(0, space);
        if (from !== this.#instanceId) this.#attached?.host.released(key, space < 0 ? undefined : message.slice(space + 1));
      },
      settings.operationTimeout,
      () => this.#connection.whenConnected(),
    );
    const releaseFeed = Object.freeze({ watch: (key: string) => this.watch(key), unwatch: (key: string) => this.unwatch(key) });
    const lastConnectionError = () => this.#connection.lastConnectionError();
    const transfer = (lock: HeldLock<RedisLockKeys>, token: string, ttl: number, turn?: boolean) => this.transfer(lock, token, ttl, turn);
    // Fair: the server's wait list decides which instance is next (one place per instance and
    // key: turns); a releasing holder passes the lock to a waiter of its own in its instance's
    // turn, or when that waiter is first in line.
    const waitList: WaitList = Object.freeze({ leave: (key: string, token: string) => this.leave(key, token) });
    this.features = settings.fair
      ? Object.freeze({ claims: ['exclusive'] as const, releaseFeed, waitList, turns: true, transfer, lastConnectionError })
      : Object.freeze({ claims: ['exclusive'] as const, releaseFeed, transfer, lastConnectionError });
  }

  /** The client commands go through; resolved by {@link attach}. */
  get client(): RedisLockClient {
    return this.#connection.client;
  }

  /** Connects (or adopts the caller's client). May throw `InvalidOptionError` for a bad client argument. */
  attach(host: DriverHost<RedisLockKeys>): void {
    this.#connection.open();
    this.#attached = { host, placeMs: waitListPlaceMs(host.maxRetryDelay) };
  }

  /** The Redis names used for `key`. */
  keysFor(key: string): RedisLockKeys {
    return redisLockKeys(this.#settings.prefix, key);
  }

  async acquire(request: AcquireRequest): Promise<AcquireResult<RedisLockKeys>> {
    const { key, token, ttl } = request;
    const keys = this.keysFor(key);
    const { host, placeMs } = this.#open();
    let result: AcquireReply;
    try {
      if (this.#settings.fair) {
        const waiting = request.waiting === true ? 1 : 0;
        // A caller refused before may have a place: the script then looks at the line even for a
        // free key (a first attempt takes a free key with a plain SET NX).
        const placed = this.#placed.has(token) ? 1 : 0;
        const reply = await this.#call(scripts.fairAcquire, [keys.lock, token, ttl, this.#keepFence(ttl), waiting, placeMs, placed]).catch(
          (error: unknown) => {
            if (waiting === 1) this.#placed.add(token); // it may have run
            throw error;
          },
        );
        if (reply.acquired) {
          if (placed === 1) this.#placed.delete(token);
        } else if (waiting === 1) {
          this.#placed.add(token);
        }
        result = reply.acquired ? reply : { acquired: false, pttl: reply.retryAfter };
      } else {
        result = await this.#call(scripts.acquire, [keys.lock, keys.fence, token, ttl, this.#keepFence(ttl)]);
      }
    } catch (error) {
      if (!(error instanceof UnexpectedReplyError)) this.#releaseLater(key, keys, token);
      throw error;
    }
    if (result.acquired) return { acquired: true, fencingToken: result.fencingToken, data: keys };
    // While release messages may be missed (subscriber reconnecting), do not sleep through the
    // holder's whole lease: poll at most every maxRetryDelay.
    const retryAfter = this.#subscriber.live || result.pttl < 0 ? result.pttl : Math.min(result.pttl, host.maxRetryDelay);
    return { acquired: false, retryAfter };
  }

  /**
   * Owner-checked delete and publish, safe to re-send: a copy that ioredis sends again after a
   * reconnect finds the release latch its first run left and reports the release, not a loss.
   * A successful release wakes this instance's next waiter for the key at once, a pub/sub round
   * trip sooner than its own message would, which it recognises by the instance id and skips.
   * Other processes act on the message.
   */
  async release(lock: HeldLock<RedisLockKeys>): Promise<boolean> {
    const keys = lock.data;
    if (this.#settings.fair) {
      const reply = await this.#call(scripts.fairRelease, this.#fairReleaseArgs(lock.data, lock.token));
      if (reply.outcome === 'released') this.#open().host.released(lock.key, reply.next);
      return reply.outcome === 'released';
    }
    const args = [keys.lock, releaseLatchKey(keys, lock.token), lock.token, keys.channel, this.#instanceId, this.#latchMs] as const;
    const released = await this.#call(scripts.release, args);
    if (released) this.#open().host.released(lock.key);
    return released;
  }

  /**
   * The wait list feature (fair mode): a waiting caller gave up; its place goes. When it was
   * first in line for a free lock, the next waiter is told (here at once, elsewhere by message).
   */
  async leave(key: string, token: string): Promise<void> {
    this.#placed.delete(token);
    const keys = this.keysFor(key);
    const { waiters, places } = redisWaitListKeys(keys);
    const next = await this.#call(scripts.fairLeave, [keys.lock, waiters, places, token, keys.channel, this.#instanceId, this.#open().placeMs]);
    if (next !== undefined) this.#open().host.released(key, next);
  }

  /**
   * The `transfer` feature: the acquire script takes the lock over from `lock`'s token for
   * `token`. Fair: the release script does, when `token` is in the instance's turn or first in
   * line, and otherwise releases the lock (`released: true`).
   */
  async transfer(lock: HeldLock<RedisLockKeys>, token: string, ttl: number, turn = false): Promise<TransferResult<RedisLockKeys>> {
    const keys = lock.data;
    if (this.#settings.fair) {
      const args = [...this.#fairReleaseArgs(lock.data, lock.token), token, ttl, this.#keepFence(ttl), turn ? 1 : 0] as const;
      const reply = await this.#call(scripts.fairRelease, args);
      if (reply.outcome === 'handed-over') {
        this.#placed.delete(token);
        return { acquired: true, fencingToken: reply.fencingToken, data: keys };
      }
      if (reply.outcome === 'not-held') return { acquired: false, retryAfter: -1 };
      this.#open().host.released(lock.key, reply.next);
      return { acquired: false, released: true };
    }
    const result = await this.#call(scripts.acquire, [keys.lock, keys.fence, token, ttl, this.#keepFence(ttl), lock.token]);
    return result.acquired ? { acquired: true, fencingToken: result.fencingToken, data: keys } : { acquired: false, retryAfter: result.pttl };
  }

  async renew(lock: HeldLock<RedisLockKeys>, ttl: number): Promise<boolean> {
    const keys = lock.data;
    return this.#call(scripts.renew, [keys.lock, keys.fence, lock.token, ttl, this.#keepFence(ttl)]);
  }

  /**
   * All renewals of a watchdog tick in one pipeline (one per node on a Cluster), many locks per
   * script call, built and read in slices that yield through the tick's `pace`.
   */
  renewMany(locks: readonly HeldLock<RedisLockKeys>[], options?: RenewManyOptions): Promise<Array<boolean | Error>> {
    const renewals = locks.map(({ data, token, ttl }) => ({ lockKey: data.lock, fenceKey: data.fence, token, ttl, keepFence: this.#keepFence(ttl) }));
    return renewBatch(this.client, renewals, { timeoutMs: this.#settings.operationTimeout, pace: options?.pace });
  }

  /** A lock the engine lost track of: give the key back if it is still ours (owner-checked, best effort). */
  abandon(lock: HeldLock<RedisLockKeys>): void {
    this.release(lock).catch(() => false);
  }

  async inspect(key: string): Promise<LockInfo | null> {
    const keys = this.keysFor(key);
    const held = await this.#call(scripts.inspect, [keys.lock, keys.fence]);
    return held === null ? null : { key, holder: held.token.slice(0, 8), ttlRemaining: held.pttl, fencingToken: held.fence };
  }

  /** Connection failures and timeouts may pass; an error reply such as NOAUTH will not. */
  isTransient(error: unknown): boolean {
    return isTransientRedisError(error);
  }

  /** Closes the subscriber; quits a client the driver created, or detaches from the caller's. */
  async close(): Promise<void> {
    this.#subscriber.close();
    await this.#connection.close();
  }

  /** The release feed: subscribes to the key's channel. */
  watch(key: string): Promise<void> {
    return this.#subscriber.watch(this.keysFor(key).channel, key);
  }

  /** The release feed: unsubscribes from the key's channel (best effort). */
  unwatch(key: string): void {
    this.#subscriber.unwatch(this.keysFor(key).channel);
  }

  #fairReleaseArgs(keys: RedisLockKeys, token: string) {
    return [keys.lock, token, this.#instanceId, this.#latchMs, this.#open().placeMs] as const;
  }

  #open(): Attached {
    if (this.#attached === undefined) throw new Error('RedisDriver used before an engine attached it');
    return this.#attached;
  }

  #call<Args extends readonly ScriptArg[], Reply>(script: Script<Args, Reply>, args: Args): Promise<Reply> {
    return this.#connection.call(script, args);
  }

  /** How long a key's fence counter is kept after an acquire or renewal of `ttl` ms. */
  #keepFence(ttl: number): number {
    return ttl + this.#settings.fenceRetention;
  }

  /**
   * How long a release latch lives: longer than any copy of the release can still be answered
   * to a caller waiting for it (each call gives up after `operationTimeout`).
   */
  get #latchMs(): number {
    return this.#settings.operationTimeout * 2;
  }

  /**
   * An acquire that failed with a timeout or a dropped connection may still reach the server
   * and take the lock for a token nobody holds, blocking the key for a whole TTL. A release of
   * that token, sent right behind it on the same connection, undoes it. Best effort, unbounded
   * (it must not overtake the acquire), and harmless when the acquire never ran.
   */
  #releaseLater(key: string, keys: RedisLockKeys, token: string): void {
    if (this.#settings.fair) {
      scripts.fairRelease
        .run(this.client, this.#fairReleaseArgs(keys, token))
        .then((reply) => {
          if (reply.outcome === 'released') this.#attached?.host.released(key, reply.next);
        })
        .catch(() => undefined);
      return;
    }
    // Published with an empty message: this instance's own waiters must hear of it too.
    const args = [keys.lock, releaseLatchKey(keys, token), token, keys.channel, '', this.#latchMs] as const;
    scripts.release.run(this.client, args).catch(() => undefined);
  }
}
