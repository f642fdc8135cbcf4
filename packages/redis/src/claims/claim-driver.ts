import { randomBytes } from 'node:crypto';
import {
  SemaphoreLimitMismatchError,
  type AcquireRequest,
  type AcquireResult,
  type ClaimKind,
  type DriverFeatures,
  type DriverHost,
  type HeldLock,
  type KeyHolders,
  type LockCapabilities,
  type LockDriver,
  type LockInfo,
  waitListPlaceMs,
} from '@dlock/core';
import { UnexpectedReplyError, type Script, type ScriptArg } from '@dlock/redis/protocol';
import type { RedisOptions } from 'ioredis';
import { RedisConnection } from '../connection.js';
import { ReleaseSubscriber } from '../release-subscriber.js';
import { isTransientRedisError } from '../transient.js';
import type { RedisLockClient } from '../types.js';
import { claimLatchKey, redisClaimKeys, type RedisClaimKeys } from './keys.js';
import type { RedisClaimSettings } from './options.js';
import { renewClaims } from './renew-many.js';
import { claimArgs, claimScripts, type ClaimAcquireReply } from './scripts.js';

/** What the driver has once an engine attached it. */
interface Attached {
  readonly host: DriverHost<RedisClaimKeys>;
  /** How long a waiter's place outlives an answer's retry delay, in ms. */
  readonly placeMs: number;
}

/**
 * The Redis driver of read-write locks and semaphores: per key, a sorted set of holders (lease
 * ends on the server clock), a FIFO wait list and a hash of claims, all under the key's hash tag,
 * changed by one Lua script per operation. The claims hash also keeps running counts of the
 * key's holders and waiters by kind, so a script judges a claim without reading them all. The
 * acquire script purges expired holders and places, then admits by core's `Admission` rule
 * (writer-preferring, permits not overtaken, a single attempt judged as queued last). A release,
 * expiry or departure names the waiters the key admits then (the head of its wait list) on the
 * key's channel, which waiters hear through one subscriber connection: only those try again.
 * Renewals of a watchdog tick go in one pipeline (one per node on a Cluster). What it keeps per
 * lock is the key's Redis names.
 */
export class RedisClaimDriver implements LockDriver<RedisClaimKeys> {
  readonly backend = 'redis';
  readonly capabilities: LockCapabilities = Object.freeze({ ttlGranularityMs: 1, minTtlMs: 1, fencing: 'strict' });
  readonly features: DriverFeatures<RedisClaimKeys>;
  readonly #settings: RedisClaimSettings;
  readonly #subscriber: ReleaseSubscriber;
  readonly #connection: RedisConnection;
  /** Published with this instance's releases and departures: its subscriber skips them. */
  readonly #instanceId = randomBytes(8).toString('hex');
  #attached: Attached | undefined;

  /**
   * @param source an ioredis client (used as is, never closed), or ioredis options or a URL
   *   (a client is created on attach and closed by `close()`).
   * @param claims `['exclusive', 'shared']` (a read-write lock) or `['permits']` (a semaphore).
   */
  constructor(source: RedisLockClient | RedisOptions | string, settings: RedisClaimSettings, claims: readonly ClaimKind[]) {
    this.#settings = settings;
    this.#connection = new RedisConnection(source, settings.operationTimeout, 'RedisClaimDriver');
    this.#subscriber = new ReleaseSubscriber(
      () => this.client.duplicate(),
      (key, message) => {
        // '<instance id> <token> <token> ...': the waiters the key admits now (the id is '' after
        // an expiry); '<instance id>' or '': re-check (a reconnect, a peer that names nobody).
        const space = message.indexOf(' ');
        const from = space < 0 ? message : message.slice(0, space);
        if (from !== this.#instanceId) this.#attached?.host.released(key, space < 0 ? undefined : message.slice(space + 1).split(' '));
      },
      settings.operationTimeout,
      () => this.#connection.whenConnected(),
    );
    this.features = Object.freeze({
      claims: Object.freeze([...claims]),
      waitList: Object.freeze({ leave: (key: string, token: string) => this.leave(key, token) }),
      inspectHolders: (key: string) => this.inspectHolders(key),
      releaseFeed: Object.freeze({ watch: (key: string) => this.watch(key), unwatch: (key: string) => this.unwatch(key) }),
      lastConnectionError: () => this.#connection.lastConnectionError(),
    });
  }

  /** The client commands go through; resolved by {@link attach}. */
  get client(): RedisLockClient {
    return this.#connection.client;
  }

  /** Connects (or adopts the caller's client). May throw `InvalidOptionError` for a bad client argument. */
  attach(host: DriverHost<RedisClaimKeys>): void {
    this.#connection.open();
    this.#attached = { host, placeMs: waitListPlaceMs(host.maxRetryDelay) };
  }

  /** The Redis names used for `key`. */
  keysFor(key: string): RedisClaimKeys {
    return redisClaimKeys(this.#settings.prefix, key);
  }

  async acquire({ key, token, ttl, claim, waiting }: AcquireRequest): Promise<AcquireResult<RedisClaimKeys>> {
    const keys = this.keysFor(key);
    const { placeMs, host } = this.#open();
    const [kind, permits, limit] = claimArgs(claim);
    const args = [keys.holders, keys.queue, keys.claims, keys.fence, token, ttl, kind, permits, limit, waiting === true ? 1 : 0, placeMs, this.#keepFence(ttl), keys.channel] as const;
    let reply: ClaimAcquireReply;
    try {
      reply = await this.#call(claimScripts.acquire, args);
    } catch (error) {
      if (!(error instanceof UnexpectedReplyError)) this.#releaseLater(keys, token);
      throw error;
    }
    if (reply.outcome === 'admitted') return { acquired: true, fencingToken: reply.fencingToken, data: keys };
    if (reply.outcome === 'limit') throw new SemaphoreLimitMismatchError(key, limit, reply.currentLimit, { backend: this.backend });
    // While release messages may be missed (subscriber reconnecting), poll at most every maxRetryDelay.
    const { retryAfter } = reply;
    return { acquired: false, retryAfter: this.#subscriber.live || retryAfter < 0 ? retryAfter : Math.min(retryAfter, host.maxRetryDelay) };
  }

  /**
   * Owner-checked release, safe to re-send (a release latch). The script names the waiters the
   * key admits now, on the key's channel and in its reply: this instance wakes exactly its own of
   * them at once (its subscriber skips its own message), other instances theirs.
   */
  async release(lock: HeldLock<RedisClaimKeys>): Promise<boolean> {
    const k = lock.data;
    const args = [k.holders, k.queue, k.claims, claimLatchKey(k, lock.token), lock.token, k.channel, this.#instanceId, this.#latchMs] as const;
    const reply = await this.#call(claimScripts.release, args);
    if (reply.outcome === 'not-held') return false;
    // A re-sent copy: whom the first run admitted is unknown here, so the local waiters re-check.
    if (reply.outcome === 'released-before') this.#open().host.released(lock.key);
    else if (reply.admitted.length > 0) this.#open().host.released(lock.key, reply.admitted);
    return true;
  }

  async renew(lock: HeldLock<RedisClaimKeys>, ttl: number): Promise<boolean> {
    const k = lock.data;
    return this.#call(claimScripts.renew, [k.holders, k.queue, k.claims, k.fence, lock.token, ttl, this.#keepFence(ttl)]);
  }

  /** All renewals of a watchdog tick in one pipeline (one per node on a Cluster). */
  renewMany(locks: readonly HeldLock<RedisClaimKeys>[]): Promise<Array<boolean | Error>> {
    return renewClaims(this.client, locks, (ttl) => this.#keepFence(ttl), this.#settings.operationTimeout);
  }

  /** The wait list feature: a waiting caller gave up; its place goes, and the waiters that admits are told. */
  async leave(key: string, token: string): Promise<void> {
    const k = this.keysFor(key);
    const reply = await this.#call(claimScripts.leave, [k.holders, k.queue, k.claims, token, k.channel, this.#instanceId]);
    if (reply.left && reply.admitted.length > 0) this.#attached?.host.released(key, reply.admitted);
  }

  /** Every live holder of `key` with its claim, and how many callers wait. */
  async inspectHolders(key: string): Promise<KeyHolders> {
    const k = this.keysFor(key);
    const { waiting, holders } = await this.#call(claimScripts.inspect, [k.holders, k.queue, k.claims]);
    return { key, holders: holders.map(({ token: _token, ...holder }) => holder), waiting };
  }

  /** A claim the engine lost track of: give it back if still ours (owner-checked, best effort). */
  abandon(lock: HeldLock<RedisClaimKeys>): void {
    this.release(lock).catch(() => false);
  }

  /** The latest holder of `key` (highest fencing token), as a mutex's `inspect` shows it. */
  async inspect(key: string): Promise<LockInfo | null> {
    const { holders } = await this.inspectHolders(key);
    let last: (typeof holders)[number] | undefined;
    for (const h of holders) if (last === undefined || h.fencingToken > last.fencingToken) last = h;
    return last === undefined ? null : { key, holder: last.holder, ttlRemaining: last.ttlRemaining, fencingToken: last.fencingToken };
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

  #open(): Attached {
    if (this.#attached === undefined) throw new Error('RedisClaimDriver used before an engine attached it');
    return this.#attached;
  }

  #call<Args extends readonly ScriptArg[], Reply>(script: Script<Args, Reply>, args: Args): Promise<Reply> {
    return this.#connection.call(script, args);
  }

  #keepFence(ttl: number): number {
    return ttl + this.#settings.fenceRetention;
  }

  /** A release latch outlives every copy of the release a caller still waits for. */
  get #latchMs(): number {
    return this.#settings.operationTimeout * 2;
  }

  /**
   * An acquire that failed with a timeout or a dropped connection may still run and admit a
   * token nobody holds: a release sent right behind it on the same connection undoes that
   * (best effort; published with an empty id, so this instance's waiters hear it too).
   */
  #releaseLater(keys: RedisClaimKeys, token: string): void {
    claimScripts.release.run(this.client, [keys.holders, keys.queue, keys.claims, claimLatchKey(keys, token), token, keys.channel, '', this.#latchMs]).catch(() => undefined);
  }
}
