import {
  defaultLockOptions,
  LockNotHeldError,
  type AcquireRequest,
  type AcquireResult,
  type DriverFeatures,
  type DriverHost,
  type HeldLock,
  type LockCapabilities,
  type LockDriver,
  type LockInfo,
} from '@dlock/core';
import { redisLockKeys, type RedisLockKeys } from '@dlock/redis/protocol';
import { acquireRound, type RoundContext } from './acquire-round.js';
import { ReleaseAnnouncements } from './announcements.js';
import { MIN_TTL_REASON, minTtlOf, validateRedlockTtl } from './min-ttl.js';
import type { RedlockNode } from './node-client.js';
import { NodeSet } from './node-set.js';
import { resolveRedlockOptions, type RedlockOptions, type ResolvedRedlockOptions } from './options.js';
import { count, mostCommon, quorumOf, unanswered, type Outcome, type Outcomes } from './quorum.js';
import { scripts } from './scripts.js';
import { validateNodes } from './validate-nodes.js';

/**
 * Redlock as a lock driver: each operation runs on every node at once and is decided by a
 * quorum (see {@link Redlock} and the README). What it keeps per held lock is the lock's key
 * names on the nodes. Its features: release announcements (one channel per key on every node),
 * the drift allowance subtracted from every lease, and a minimum TTL.
 *
 * The constructor validates everything and connects nothing; the nodes are connected (or the
 * given clients adopted) when the engine attaches, after it accepted its own options.
 */
export class RedlockDriver implements LockDriver<RedisLockKeys> {
  readonly backend = 'redlock';
  readonly capabilities: LockCapabilities;
  readonly features: DriverFeatures<RedisLockKeys>;
  /** Nodes that must agree: `floor(nodes / 2) + 1`. */
  readonly quorum: number;
  readonly nodeCount: number;
  readonly #o: ResolvedRedlockOptions;
  readonly #given: readonly RedlockNode[];
  #nodes: NodeSet | undefined;
  #host: DriverHost<RedisLockKeys> | undefined;
  #round: RoundContext | undefined;
  readonly #announcements = new ReleaseAnnouncements((key) => this.#host?.released(key));
  /**
   * Locks a release was sent for. A renewal that finds one of them gone does not report it
   * lost: the release decides (see {@link #renewVerdict}).
   */
  readonly #releaseSent = new WeakSet<HeldLock<RedisLockKeys>>();

  /** @param options Redlock's options; the engine's own are checked by the engine. */
  constructor(nodes: readonly RedlockNode[], options: RedlockOptions) {
    // Everything is checked before the first connection is made.
    validateNodes(nodes);
    // Not an object: the engine names that error.
    const given: RedlockOptions = typeof options === 'object' && options !== null ? options : {};
    this.#o = resolveRedlockOptions(given);
    const minTtlMs = minTtlOf(this.#o.driftFactor, this.#o.driftMs);
    validateRedlockTtl(given.defaultTtl ?? defaultLockOptions.ttl, minTtlMs, 'defaultTtl');
    this.#given = nodes;
    this.nodeCount = nodes.length;
    this.quorum = quorumOf(nodes.length);
    this.capabilities = Object.freeze({ ttlGranularityMs: 1, minTtlMs, fencing: this.#o.fencing });
    this.features = Object.freeze({
      claims: ['exclusive'] as const,
      releaseFeed: Object.freeze({ watch: (key: string) => this.#watch(key), unwatch: (key: string) => this.#unwatch(key) }),
      drift: (ttl: number) => this.drift(ttl),
      minTtl: Object.freeze({ ms: minTtlMs, reason: MIN_TTL_REASON }),
    });
  }

  /** The allowance for clock drift subtracted from the validity of a lease of `ttl` ms. */
  drift(ttl: number): number {
    return ttl * this.#o.driftFactor + this.#o.driftMs;
  }

  attach(host: DriverHost<RedisLockKeys>): void {
    this.#host = host;
    this.#nodes = new NodeSet(this.#given, this.#o.nodeTimeout, {
      message: (channel, holder) => this.#announcements.heard(channel, holder),
      resubscribed: () => this.#announcements.wakeAll(),
    });
    this.#round = {
      nodes: this.#nodes,
      fencing: this.#o.fencing,
      retryDelay: this.#o.retryDelay,
      now: () => host.clock.now(),
      validity: (started, ttl) => this.#validity(started, ttl),
      releasing: (key) => this.#announcements.releasing(key),
    };
  }

  acquire(request: AcquireRequest): Promise<AcquireResult<RedisLockKeys>> {
    const keys = redisLockKeys(this.#o.prefix, request.key);
    if (this.#round === undefined) throw notAttached();
    return acquireRound(this.#round, { key: request.key, keys, token: request.token, ttl: request.ttl });
  }

  release(lock: HeldLock<RedisLockKeys>): Promise<boolean> {
    return this.#release(lock, true);
  }

  /**
   * Owner-checked release, decided at a quorum. `latch`: only the release of a held lock leaves
   * latches; the clean-up of a lock already reported lost must not make a later `unlock()` of
   * it look successful.
   */
  async #release(lock: HeldLock<RedisLockKeys>, latch: boolean): Promise<boolean> {
    const nodes = this.#attached();
    const q = this.quorum;
    const args = nodes.releaseArgs(lock.data, lock.token, { announce: true, latch });
    this.#releaseSent.add(lock);
    const replies = await nodes.everywhere(scripts.release, args, { decided: (known) => count(known, (deleted) => deleted) >= q });
    const deleted = count(replies, (d) => d);
    if (deleted >= q) return true;
    // Not held if even the silent nodes could not have made a quorum with the ones that deleted.
    if (deleted + unanswered(replies) < q) return false;
    throw nodes.quorumError('release', lock.key, replies);
  }

  async renew(lock: HeldLock<RedisLockKeys>, ttl: number): Promise<boolean> {
    const started = this.#now();
    const n = this.nodeCount;
    const q = this.quorum;
    const replies = await this.#attached().everywhere(scripts.extend, [lock.data.lock, lock.token, ttl], {
      cap: ttl,
      decided: (known) => count(known, (ok) => ok) >= q || count(known, (ok) => !ok) > n - q,
    });
    const verdict = this.#renewVerdict(lock, ttl, started, replies);
    if (verdict instanceof Error) throw verdict;
    return verdict;
  }

  /** The watchdog's batch: one pipeline per node for all due locks, one round trip in all. */
  async renewMany(locks: readonly HeldLock<RedisLockKeys>[]): Promise<Array<boolean | Error>> {
    const started = this.#now();
    const calls = locks.map((l) => [l.data.lock, l.token, l.ttl] as const);
    const q = this.quorum;
    const perNode = await this.#attached().pipelined(
      scripts.extend,
      calls,
      // Done once a quorum extended every lock: silent nodes do not slow the watchdog down.
      (known) => locks.every((_, li) => count(known, (replies) => replies[li] === true) >= q),
    );
    return locks.map((lock, li) => {
      const replies: Outcomes<boolean> = perNode.map((node): Outcome<boolean> => {
        if (!node?.ok) return { ok: false, error: node?.error ?? new Error('no answer') };
        const reply = node.value[li];
        if (reply === undefined) return { ok: false, error: new Error('no reply for this lock') };
        if (reply instanceof Error) return { ok: false, error: reply };
        return { ok: true, value: reply };
      });
      return this.#renewVerdict(lock, lock.ttl, started, replies);
    });
  }

  /**
   * Held (`true`), lost (`false`: the engine then abandons it, which gives back what is left
   * and announces it so that waiters do not sit out the remaining leases), or undecided (an
   * error to retry).
   */
  #renewVerdict(lock: HeldLock<RedisLockKeys>, ttl: number, started: number, replies: Outcomes<boolean>): boolean | Error {
    const q = this.quorum;
    const extended = count(replies, (ok) => ok);
    if (extended >= q && this.#validity(started, ttl) > 0) return true;
    if (extended >= q || extended + unanswered(replies) < q) {
      if (this.#releaseSent.has(lock)) {
        // Our own release of it was sent, and ran before this renewal on some nodes (an
        // extension re-sent after a reconnect runs after the release sent behind it). Not a
        // loss: the release decides (released, or LockLostError if it found the lock gone).
        return new LockNotHeldError(lock.key, 'a release of it was sent', { backend: this.backend });
      }
      // Lost, or extended too late to know it is still valid.
      return false;
    }
    return this.#attached().quorumError('renew', lock.key, replies);
  }

  /** Gives back what may be left of a lost lock and announces it; leaves no release latch. */
  abandon(lock: HeldLock<RedisLockKeys>): void {
    this.#release(lock, false).catch(() => false);
  }

  async inspect(key: string): Promise<LockInfo | null> {
    const k = redisLockKeys(this.#o.prefix, key);
    const q = this.quorum;
    const replies = await this.#attached().everywhere(scripts.inspect, [k.lock, k.fence]);
    const byHolder = new Map<string, Array<{ pttl: number; counter: bigint }>>();
    for (const r of replies) {
      if (r?.ok && r.value !== null) byHolder.set(r.value.holder, [...(byHolder.get(r.value.holder) ?? []), r.value]);
    }
    const [holder, seen] = [...byHolder].sort((a, b) => b[1].length - a[1].length)[0] ?? ['', []];
    if (seen.length >= q) {
      // Held until fewer than a quorum of these leases remain: the quorum-th longest one.
      const pttls = seen.map((s) => s.pttl).sort((a, b) => b - a);
      return {
        key,
        holder: holder.slice(0, 8),
        ttlRemaining: pttls[q - 1]!,
        // The fencing round set the counter of (at least) a quorum of the holder's nodes to its token.
        fencingToken: this.#o.fencing === 'none' ? 0n : (mostCommon(seen.map((s) => s.counter)) ?? 0n),
      };
    }
    if (seen.length + unanswered(replies) < q) return null;
    throw this.#attached().quorumError('inspect', key, replies);
  }

  /** Every failure may pass: a quorum of nodes may answer on the next attempt. */
  isTransient(): boolean {
    return true;
  }

  async close(): Promise<void> {
    await this.#nodes?.close();
  }

  /** The release feed: subscribes on every node, done once a quorum listens. */
  async #watch(key: string): Promise<void> {
    const channel = redisLockKeys(this.#o.prefix, key).channel;
    this.#announcements.watch(channel, key);
    await this.#attached().subscribe(channel);
  }

  #unwatch(key: string): void {
    const channel = redisLockKeys(this.#o.prefix, key).channel;
    this.#announcements.unwatch(channel, key);
    this.#nodes?.unsubscribe(channel);
  }

  /** ms of validity left for a lease of `ttl` requested at `started` (monotonic clock only). */
  #validity(started: number, ttl: number): number {
    return ttl - (this.#now() - started) - this.drift(ttl);
  }

  #now(): number {
    if (this.#host === undefined) throw notAttached();
    return this.#host.clock.now();
  }

  #attached(): NodeSet {
    if (this.#nodes === undefined) throw notAttached();
    return this.#nodes;
  }
}

function notAttached(): Error {
  return new Error('RedlockDriver: used before an engine attached it');
}
