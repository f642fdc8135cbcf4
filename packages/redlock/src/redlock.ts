import {
  BaseLock,
  Handle,
  LockNotHeldError,
  validateKey,
  type AcquireAttempt,
  type AcquireOptions,
  type HeldLock,
  type LockCapabilities,
  type LockHandle,
  type LockInfo,
} from '@dlock/core';
import {
  redisLockKeys,
  releaseLatchKey,
  type RedisLockKeys,
  type ReleaseArgs,
  type Script,
  type ScriptArg,
} from '@dlock/redis/protocol';
import { ReleaseAnnouncements } from './announcements.js';
import { RedlockNodeTimeoutError, RedlockQuorumError, type RedlockNodeFailure } from './errors.js';
import { minTtlOf, requestedTtl, validateRedlockTtl } from './min-ttl.js';
import { ANSWER_CAP_FACTOR, NodeClient, type RedlockNode } from './node-client.js';
import { resolveRedlockOptions, type RedlockOptions, type ResolvedRedlockOptions } from './options.js';
import {
  count,
  gather,
  mostCommon,
  quorumOf,
  retryAfterContention,
  unanswered,
  type Outcome,
  type Outcomes,
  type Refusal,
} from './quorum.js';
import { scripts } from './scripts.js';
import { validateNodes } from './validate-nodes.js';

/**
 * Redlock: one lock over N independent Redis masters (no replication between them). A lock is
 * held while a majority of nodes hold its token; any minority of nodes may be down, stopped or
 * partitioned away without stopping locking.
 *
 * Each attempt: a fresh random token; the start read from the monotonic clock; `SET NX PX` on all
 * nodes at once, each bounded by `nodeTimeout`; then validity = ttl - elapsed - drift. It counts
 * only with a quorum and validity > 0; otherwise the attempt is undone on every node (including
 * those that did not answer in time). Waiters are woken by release announcements and otherwise
 * sleep no longer than the leases the nodes reported.
 *
 * Read the README before relying on it for correctness: the guarantees assume bounded process
 * pauses and clock drift, and nodes that do not come back empty within a TTL.
 *
 * @example
 * ```ts
 * const redlock = new Redlock(['redis://10.0.0.1', 'redis://10.0.0.2', 'redis://10.0.0.3']);
 * await using lock = await redlock.lock('invoice:42', { ttl: 10_000 });
 * await ledger.write(invoice, { fence: lock.fencingToken });
 * ```
 */
export class Redlock extends BaseLock {
  readonly backend = 'redlock';
  readonly capabilities: LockCapabilities;
  /** Nodes that must agree: `floor(nodes / 2) + 1` (3 of 5). */
  readonly quorum: number;

  readonly #nodes: readonly NodeClient[];
  readonly #o: ResolvedRedlockOptions;
  readonly #announcements = new ReleaseAnnouncements((key) => this.notifyReleased(key));
  /**
   * Lifetime of a release latch, in ms: twice the longest a reply to a release is waited for,
   * so that a copy of the release that ioredis re-sends after a reconnect, and whose answer we
   * would still accept, finds the latch of the run that deleted the key (see `release.lua`).
   */
  readonly #latchMs: number;
  /**
   * Locks a release was sent for. A renewal that finds one of them gone does not report it
   * lost: the release decides (see {@link #renewVerdict}).
   */
  readonly #releaseSent = new WeakSet<HeldLock>();

  /**
   * @param nodes The independent masters: ioredis clients (left open by `close()`), or ioredis
   *   options / `redis://` URLs (Redlock connects, and disconnects at `close()`). Use an odd
   *   number, 3 or 5.
   * @param options See {@link RedlockOptions}.
   */
  constructor(nodes: readonly RedlockNode[], options: RedlockOptions = {}) {
    super(options, {
      names: ['prefix', 'nodeTimeout', 'driftFactor', 'driftMs', 'retryDelay', 'fencing'],
      what: 'new Redlock()',
    });
    // Everything is checked before the first connection is made.
    validateNodes(nodes);
    this.#o = resolveRedlockOptions(options);
    const minTtlMs = minTtlOf(this.#o.driftFactor, this.#o.driftMs);
    validateRedlockTtl(this.defaultTtl, minTtlMs, 'defaultTtl');
    this.quorum = quorumOf(nodes.length);
    this.capabilities = Object.freeze({ ttlGranularityMs: 1, minTtlMs, fencing: this.#o.fencing });
    this.#latchMs = Math.ceil(2 * this.#o.nodeTimeout * ANSWER_CAP_FACTOR);
    this.#nodes = nodes.map(
      (node) =>
        new NodeClient(
          node,
          (channel, holder) => this.#announcements.heard(channel, holder),
          () => this.#announcements.wakeAll(),
        ),
    );
  }

  /** Number of nodes. */
  get nodeCount(): number {
    return this.#nodes.length;
  }

  /**
   * The allowance for clock drift subtracted from the validity of a lease of `ttl` ms:
   * `ttl * driftFactor + driftMs`.
   * @example
   * ```ts
   * new Redlock(nodes).drift(10_000); // 102 (ms) with the defaults
   * ```
   */
  drift(ttl: number): number {
    return ttl * this.#o.driftFactor + this.#o.driftMs;
  }

  /** Validity counts from before the first request was sent, minus the drift allowance. */
  protected override validUntil(startedAt: number, ttl: number): number {
    return startedAt + ttl - this.drift(ttl);
  }

  // ---- validation beyond the core's ------------------------------------------------------

  /** As {@link BaseLock.tryLock}; a `ttl` below `capabilities.minTtlMs` is an `InvalidOptionError`. */
  override tryLock(key: string, options?: AcquireOptions): Promise<LockHandle | null> {
    const invalid = this.#invalidInput(key, requestedTtl(options));
    return invalid === undefined ? super.tryLock(key, options) : Promise.reject(invalid);
  }

  /** As {@link BaseLock.lock}; a `ttl` below `capabilities.minTtlMs` is an `InvalidOptionError`. */
  override lock(key: string, options?: AcquireOptions): Promise<LockHandle> {
    const invalid = this.#invalidInput(key, requestedTtl(options));
    return invalid === undefined ? super.lock(key, options) : Promise.reject(invalid);
  }

  /** As {@link BaseLock.renew} (and `handle.extend`); a `ttl` below `capabilities.minTtlMs` is an `InvalidOptionError`. */
  override renew(handle: LockHandle, ttl?: number): Promise<void> {
    const invalid = this.#invalidInput(undefined, ttl);
    return invalid === undefined ? super.renew(handle, ttl) : Promise.reject(invalid);
  }

  /**
   * The error for a bad `key` or `ttl` (the core's checks, then Redlock's minimum TTL), or
   * `undefined`. Before any I/O, as the core validates; the key first, as the core does.
   */
  #invalidInput(key: string | undefined, ttl: unknown): Error | undefined {
    try {
      if (key !== undefined) validateKey(key);
      if (ttl !== undefined) validateRedlockTtl(ttl, this.capabilities.minTtlMs);
      return undefined;
    } catch (error) {
      return error as Error;
    }
  }

  // ---- acquire ---------------------------------------------------------------------------

  protected async acquireOnce(key: string, token: string, ttl: number): Promise<AcquireAttempt> {
    const started = this.clock.now();
    const k = redisLockKeys(this.#o.prefix, key);
    const n = this.#nodes.length;
    const q = this.quorum;
    const replies = await gather(
      n,
      (i) => this.#run(i, scripts.acquire, [k.lock, k.fence, token, ttl], ttl),
      // Decided once a quorum is ours, or once enough nodes refused that it cannot be.
      (known) => count(known, (r) => r.taken) >= q || count(known, (r) => !r.taken) > n - q,
    );
    const taken = replies.flatMap((r) => (r?.ok && r.value.taken ? [r.value.floor] : []));

    if (taken.length >= q) {
      const fence = await this.#fence(key, token, ttl, taken);
      if (typeof fence === 'bigint' && this.#validity(started, ttl) > 0) return { acquired: true, fencingToken: fence };
      await this.#undo(key, token, replies);
      if (fence instanceof Error) throw fence;
      // Too slow (validity used up) or the leases ran out before fencing finished.
      return { acquired: false, retryAfter: this.#randomDelay() };
    }

    await this.#undo(key, token, replies);
    const refusals = replies.flatMap((r) => (r?.ok && !r.value.taken ? [r.value as Refusal] : []));
    const answered = n - unanswered(replies);
    // Too few answers to tell "someone else holds it" from "the nodes are down": an error.
    if (refusals.length <= n - q && answered < q) throw this.#quorumError('acquire', key, replies);
    return {
      acquired: false,
      retryAfter: retryAfterContention({
        quorum: q,
        taken: taken.length,
        refusals,
        unreachable: n - answered,
        releasing: this.#announcements.releasing(key),
        retryDelay: this.#o.retryDelay,
        random: Math.random,
      }),
    };
  }

  /**
   * The fencing round. Tokens from the acquire replies alone (max over the quorum of per-node
   * counters) would not be monotonic: counters on different nodes drift apart, and the next
   * quorum may miss the node that gave the maximum. So the chosen token is written back to a
   * quorum of nodes while we still hold the lock there; any later quorum overlaps this one in a
   * node whose counter is now >= our token, and takes max + 1 over it. (README: "Fencing tokens".)
   *
   * The token is max + 1 over the floors of the nodes taken so far (a quorum, so it overlaps the
   * previous holder's write-back quorum). The write-back goes to every node: one whose acquire
   * answered late but took the lock counts too (on each connection it runs after the acquire).
   * Resolves the token, `null` if the leases ran out first, or an error if too few answered.
   */
  async #fence(key: string, token: string, ttl: number, floors: readonly bigint[]): Promise<bigint | null | Error> {
    if (this.#o.fencing === 'none') return 0n;
    const q = this.quorum;
    const fence = floors.reduce((max, f) => (f > max ? f : max), 0n) + 1n;
    const k = redisLockKeys(this.#o.prefix, key);
    const args = [k.lock, k.fence, token, fence.toString()] as const;
    const raised = await gather(
      this.#nodes.length,
      (i) => this.#run(i, scripts.raise, args, ttl),
      (known) => count(known, (ok) => ok) >= q,
    );
    if (count(raised, (ok) => ok) >= q) return fence;
    if (this.#nodes.length - unanswered(raised) < q) return this.#quorumError('acquire', key, raised);
    return null;
  }

  /**
   * Gives back whatever an unsuccessful attempt took, on every node. Nodes that answered are
   * awaited (so a caller sees no trace afterwards); the others are sent the release too but not
   * waited for: it queues behind the acquire on the same connection, so it runs after it.
   */
  async #undo(key: string, token: string, replies: Outcomes<unknown>): Promise<void> {
    const call = this.#releaseCall(redisLockKeys(this.#o.prefix, key), token, { announce: false, latch: false });
    await Promise.all(
      this.#nodes.map((_, i) => {
        const done = this.#run(i, scripts.release, call).catch(() => undefined);
        return replies[i]?.ok ? done : undefined;
      }),
    );
  }

  // ---- release, renew ----------------------------------------------------------------------

  protected async releaseOnce(lock: HeldLock): Promise<boolean> {
    const k = redisLockKeys(this.#o.prefix, lock.key);
    const q = this.quorum;
    // Only a release of a held lock leaves latches: one of a lock already reported lost (the
    // expiry timer's clean-up) must not make a later unlock() of it look successful.
    const call = this.#releaseCall(k, lock.token, { announce: true, latch: !(lock instanceof Handle) || lock.held });
    this.#releaseSent.add(lock);
    const replies = await gather(
      this.#nodes.length,
      (i) => this.#run(i, scripts.release, call),
      (known) => count(known, (deleted) => deleted) >= q,
    );
    const deleted = count(replies, (d) => d);
    if (deleted >= q) return true;
    // Not held if even the silent nodes could not have made a quorum with the ones that deleted.
    if (deleted + unanswered(replies) < q) return false;
    throw this.#quorumError('release', lock.key, replies);
  }

  /**
   * Keys and arguments of `release.lua` for `token`. `announce`: publish on the key's channel.
   * `latch`: leave a release latch for re-sent copies of this release (see {@link #latchMs});
   * clean-ups whose answer nobody interprets leave none.
   */
  #releaseCall(k: RedisLockKeys, token: string, o: { announce: boolean; latch: boolean }): ReleaseArgs {
    return [k.lock, releaseLatchKey(k, token), token, o.announce ? k.channel : '', token.slice(0, 16), o.latch ? this.#latchMs : 0];
  }

  protected async renewOnce(lock: HeldLock, ttl: number): Promise<boolean> {
    const started = this.clock.now();
    const k = redisLockKeys(this.#o.prefix, lock.key);
    const n = this.#nodes.length;
    const q = this.quorum;
    const replies = await gather(
      n,
      (i) => this.#run(i, scripts.extend, [k.lock, lock.token, ttl], ttl),
      (known) => count(known, (ok) => ok) >= q || count(known, (ok) => !ok) > n - q,
    );
    const verdict = this.#renewVerdict(lock, ttl, started, replies);
    if (verdict instanceof Error) throw verdict;
    return verdict;
  }

  /** The watchdog's batch: one pipeline per node for all due locks, one round trip in all. */
  protected override async renewManyOnce(locks: readonly HeldLock[]): Promise<Array<boolean | Error>> {
    const started = this.clock.now();
    const calls = locks.map((l) => [redisLockKeys(this.#o.prefix, l.key).lock, l.token, l.ttl] as const);
    const q = this.quorum;
    const perNode = await gather(
      this.#nodes.length,
      (i) => this.#nodes[i]!.runMany(scripts.extend, calls, this.#o.nodeTimeout),
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

  /** Held (`true`), lost (`false`; what is left of it is released), or undecided (an error to retry). */
  #renewVerdict(lock: HeldLock, ttl: number, started: number, replies: Outcomes<boolean>): boolean | Error {
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
      // Lost, or extended too late to know it is still valid: give back what is left, and
      // announce it so that waiters do not sit out the remaining leases.
      const call = this.#releaseCall(redisLockKeys(this.#o.prefix, lock.key), lock.token, { announce: true, latch: false });
      this.#nodes.forEach((_, i) => void this.#run(i, scripts.release, call).catch(() => undefined));
      return false;
    }
    return this.#quorumError('renew', lock.key, replies);
  }

  // ---- inspect ---------------------------------------------------------------------------

  protected async inspectOnce(key: string): Promise<LockInfo | null> {
    const k = redisLockKeys(this.#o.prefix, key);
    const q = this.quorum;
    const args = [k.lock, k.fence] as const;
    const replies = await gather(this.#nodes.length, (i) => this.#run(i, scripts.inspect, args));
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
    throw this.#quorumError('inspect', key, replies);
  }

  // ---- waiting ---------------------------------------------------------------------------

  /** Subscribes on every node; done once a quorum listens (a node that does not only costs promptness). */
  protected override async watchReleases(key: string): Promise<void> {
    const channel = redisLockKeys(this.#o.prefix, key).channel;
    this.#announcements.watch(channel, key);
    await gather(
      this.#nodes.length,
      (i) => this.#nodes[i]!.subscribe(channel, this.#o.nodeTimeout),
      (known) => count(known, () => true) >= this.quorum,
    );
  }

  protected override unwatchReleases(key: string): void {
    const channel = redisLockKeys(this.#o.prefix, key).channel;
    this.#announcements.unwatch(channel, key);
    for (const node of this.#nodes) node.unsubscribe(channel);
  }

  protected override async closeBackend(): Promise<void> {
    await Promise.all(this.#nodes.map((node) => node.close(this.#o.nodeTimeout)));
  }

  // ---- helpers ---------------------------------------------------------------------------

  /** ms of validity left for a lease of `ttl` requested at `started` (monotonic clock only). */
  #validity(started: number, ttl: number): number {
    return ttl - (this.clock.now() - started) - this.drift(ttl);
  }

  /** Runs `script` on node `i` within the per-node timeout (and at most `cap` ms in all). */
  #run<Args extends readonly ScriptArg[], Reply>(i: number, script: Script<Args, Reply>, args: Args, cap?: number): Promise<Reply> {
    return this.#nodes[i]!.run(script, args, this.#o.nodeTimeout, cap);
  }

  #randomDelay(): number {
    return Math.random() * this.#o.retryDelay;
  }

  #failure<T>(node: number, outcome: Outcome<T> | undefined): RedlockNodeFailure[] {
    if (outcome?.ok) return [];
    const label = this.#nodes[node]!.label;
    return [{ node: label, error: outcome?.error ?? new RedlockNodeTimeoutError(label, this.#o.nodeTimeout) }];
  }

  #quorumError<T>(operation: string, key: string, replies: Outcomes<T>): RedlockQuorumError {
    const failures = replies.flatMap((r, i) => this.#failure(i, r));
    return new RedlockQuorumError(
      operation,
      key,
      { nodes: this.#nodes.length, quorum: this.quorum, answered: this.#nodes.length - failures.length },
      failures,
    );
  }
}
