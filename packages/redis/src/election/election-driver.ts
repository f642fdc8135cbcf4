import type {
  AcquireRequest,
  AcquireResult,
  DriverFeatures,
  DriverHost,
  ElectionDriver,
  HeldLock,
  LeaderInfo,
  LockCapabilities,
  LockInfo,
} from '@dlock/core';
import { UnexpectedReplyError, type Script, type ScriptArg } from '@dlock/redis/protocol';
import type { RedisOptions } from 'ioredis';
import { RedisConnection } from '../connection.js';
import { isTransientRedisError } from '../transient.js';
import type { RedisLockClient } from '../types.js';
import { ElectionChannels } from './channels.js';
import { redisElectionKeys, resignLatchKey, type ElectionKeys } from './keys.js';
import { observeElection } from './observe.js';
import { renewLeaderships } from './renew.js';
import { electionScripts as scripts, type LeaderReply } from './scripts.js';

/** The validated options a {@link RedisElectionDriver} runs with (see `RedisElectionOptions`). */
export interface RedisElectionSettings {
  readonly prefix: string;
  readonly operationTimeout: number;
  readonly fenceRetention: number;
}

interface Attached {
  readonly host: DriverHost<ElectionKeys>;
}

/**
 * The Redis election protocol as a driver: a leader hash per election (token, value, term) whose
 * expiry is the lease, a counter under the same hash tag that gives terms, one Lua call per
 * campaign, resign, proclaim and read, renewals of a watchdog tick in one pipeline per node, and
 * changes published on the election's channel: candidates wake on a resign (or when the leader's
 * lease would end), observers follow every change.
 */
export class RedisElectionDriver implements ElectionDriver<ElectionKeys> {
  readonly backend = 'redis';
  readonly capabilities: LockCapabilities = Object.freeze({ ttlGranularityMs: 1, minTtlMs: 1, fencing: 'strict' });
  readonly features: DriverFeatures<ElectionKeys>;
  readonly campaigns = new Map<string, string>();
  readonly #settings: RedisElectionSettings;
  readonly #connection: RedisConnection;
  readonly #channels: ElectionChannels;
  /** The engine's release feed: the unsubscribe function per election name being waited for. */
  readonly #feeds = new Map<string, Promise<() => void>>();
  #attached: Attached | undefined;

  constructor(source: RedisLockClient | RedisOptions | string, settings: RedisElectionSettings) {
    this.#settings = settings;
    this.#connection = new RedisConnection(source, settings.operationTimeout, 'RedisElectionDriver');
    this.#channels = new ElectionChannels(() => this.client.duplicate(), settings.operationTimeout, () =>
      this.#connection.whenConnected(),
    );
    this.features = Object.freeze({
      claims: ['exclusive'] as const,
      releaseFeed: Object.freeze({ watch: (name: string) => this.#watch(name), unwatch: (name: string) => this.#unwatch(name) }),
      lastConnectionError: () => this.#connection.lastConnectionError(),
    });
  }

  /** The client commands go through; resolved by {@link attach}. */
  get client(): RedisLockClient {
    return this.#connection.client;
  }

  attach(host: DriverHost<ElectionKeys>): void {
    this.#connection.open();
    this.#attached = { host };
  }

  keysFor(name: string): ElectionKeys {
    return redisElectionKeys(this.#settings.prefix, name);
  }

  async acquire({ key: name, token, ttl }: AcquireRequest): Promise<AcquireResult<ElectionKeys>> {
    const keys = this.keysFor(name);
    const args = [keys.leader, keys.counter, token, ttl, this.#keep(ttl), this.campaigns.get(name) ?? '', keys.channel] as const;
    let reply;
    try {
      reply = await this.#call(scripts.campaign, args);
    } catch (error) {
      // The campaign may still reach the server and elect a token nobody holds: resign it right behind.
      if (!(error instanceof UnexpectedReplyError)) this.#resignLater(keys, token);
      throw error;
    }
    if (reply.elected) return { acquired: true, fencingToken: reply.term, data: keys };
    // While changes may be missed (subscriber reconnecting), do not sleep through the whole lease.
    const { maxRetryDelay } = this.#open().host;
    return { acquired: false, retryAfter: this.#channels.live || reply.pttl < 0 ? reply.pttl : Math.min(reply.pttl, maxRetryDelay) };
  }

  /**
   * Owner-checked resign, safe to re-send: a copy that ioredis sends again after a reconnect
   * finds the resign latch its first run left and reports the resign, not a lost leadership.
   */
  release(lock: HeldLock<ElectionKeys>): Promise<boolean> {
    const keys = lock.data;
    const latch = resignLatchKey(keys, lock.token);
    return this.#call(scripts.resign, [keys.leader, keys.counter, latch, lock.token, this.#keep(lock.ttl), keys.channel, this.#latchMs]);
  }

  renew(lock: HeldLock<ElectionKeys>, ttl: number): Promise<boolean> {
    const keys = lock.data;
    return this.#call(scripts.renew, [keys.leader, keys.counter, lock.token, ttl, this.#keep(ttl)]);
  }

  renewMany(locks: readonly HeldLock<ElectionKeys>[]): Promise<Array<boolean | Error>> {
    const renewals = locks.map(({ data, token, ttl }) => ({ keys: data, token, ttl, keepCounter: this.#keep(ttl) }));
    return renewLeaderships(this.client, renewals, this.#settings.operationTimeout);
  }

  abandon(lock: HeldLock<ElectionKeys>): void {
    this.release(lock).catch(() => false);
  }

  async proclaim(lock: HeldLock<ElectionKeys>, value: string): Promise<boolean> {
    const keys = lock.data;
    const ours = await this.#call(scripts.proclaim, [keys.leader, keys.counter, lock.token, value, this.#keep(lock.ttl), keys.channel]);
    if (!ours) this.#open().host.lost(lock, 'the leadership was gone when it proclaimed');
    return ours;
  }

  async leader(name: string): Promise<LeaderInfo | null> {
    const { leader } = await this.#read(name);
    return leader === null ? null : { value: leader.value, term: leader.term };
  }

  observe(name: string, emit: (leader: LeaderInfo | null) => void, signal: AbortSignal): Promise<void> {
    const source = { channels: this.#channels, channel: this.keysFor(name).channel, read: () => this.#read(name) };
    return observeElection(source, emit, signal);
  }

  async inspect(name: string): Promise<LockInfo | null> {
    const { leader } = await this.#read(name);
    return leader === null ? null : { key: name, holder: leader.token.slice(0, 8), ttlRemaining: leader.pttl, fencingToken: leader.term };
  }

  isTransient(error: unknown): boolean {
    return isTransientRedisError(error);
  }

  /** Closes the subscriber; quits a client the driver created, or detaches from the caller's. */
  async close(): Promise<void> {
    this.#channels.close();
    await this.#connection.close();
  }

  #read(name: string): Promise<LeaderReply> {
    const keys = this.keysFor(name);
    return this.#call(scripts.leader, [keys.leader, keys.counter]);
  }

  /** The release feed: candidates of `name` are woken when nobody leads any more (or after a reconnect). */
  async #watch(name: string): Promise<void> {
    const host = this.#open().host;
    const subscribed = this.#channels.listen(this.keysFor(name).channel, (message) => {
      if (message === '' || message.startsWith('N ')) host.released(name);
    });
    this.#feeds.set(name, subscribed);
    try {
      await subscribed;
    } catch (error) {
      if (this.#feeds.get(name) === subscribed) this.#feeds.delete(name);
      throw error;
    }
  }

  #unwatch(name: string): void {
    const subscribed = this.#feeds.get(name);
    this.#feeds.delete(name);
    subscribed?.then((stop) => stop(), () => undefined);
  }

  #open(): Attached {
    if (this.#attached === undefined) throw new Error('RedisElectionDriver used before an engine attached it');
    return this.#attached;
  }

  #call<Args extends readonly ScriptArg[], Reply>(script: Script<Args, Reply>, args: Args): Promise<Reply> {
    return this.#connection.call(script, args);
  }

  /** How long the counter is kept after a campaign, renewal or change with a lease of `ttl` ms. */
  #keep(ttl: number): number {
    return ttl + this.#settings.fenceRetention;
  }

  /**
   * How long a resign latch lives: longer than any copy of the resign can still be answered to
   * a caller waiting for it (each call gives up after `operationTimeout`).
   */
  get #latchMs(): number {
    return this.#settings.operationTimeout * 2;
  }

  /** A clean-up whose answer nobody reads: no latch. */
  #resignLater(keys: ElectionKeys, token: string): void {
    const args = [keys.leader, keys.counter, resignLatchKey(keys, token), token, this.#settings.fenceRetention, keys.channel, 0] as const;
    scripts.resign.run(this.client, args).catch(() => undefined);
  }
}
