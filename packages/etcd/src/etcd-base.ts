import { setMaxListeners } from 'node:events';
import {
  abortableDelay,
  BaseLock,
  LockClosedError,
  type HeldLock,
  type LockCapabilities,
} from '@dlock/core';
import type { IOptions } from 'etcd3';
import { resolveEtcdClient, type EtcdClient } from './client.js';
import type { KeyEntry } from './entry.js';
import { EtcdLeaseLostError, isPermanentEtcdError, isTransientEtcdError } from './errors.js';
import { LeasePool, type PooledLease } from './lease-pool.js';
import { leaseSentinelKey } from './keys.js';
import { createRevisionIs, deleteOp, getOp, putOp, rangeKvs, valueIs } from './ops.js';
import { resolveEtcdOptions, type EtcdLockOptions } from './options.js';

/** etcd's smallest lease TTL with default settings: ceil(1.5 × 1 s election timeout) = 2 s. */
const ETCD_MIN_TTL_MS = 2_000;

/** Renewal checks of this many keys go in one read-only txn (etcd's default limit is 128 ops). */
const KEYS_PER_CHECK = 64;

/** Sentinel: a wait ran into the caller's deadline. */
export const TIMED_OUT = Symbol('timed out');

/**
 * What `EtcdLock` and `EtcdMutex` share: the client, the lease pool (whose loss reaches every key
 * on the lease at once), release, renewal (lease keep-alive plus an ownership check, batched per
 * watchdog tick), loss handling and close(). Use it as the type of "either etcd lock".
 *
 * @example
 * ```ts
 * function makeLock(fair: boolean, client: Etcd3): EtcdLockBase {
 *   return fair ? new EtcdMutex(client) : new EtcdLock(client);
 * }
 * ```
 */
export abstract class EtcdLockBase extends BaseLock {
  readonly backend = 'etcd';
  /**
   * etcd leases count whole seconds and have a minimum TTL (2 s with etcd's default election
   * timeout). A held lock still expires after exactly its `ttl` on this side (its key is then
   * deleted); only a crashed holder's key lives until the lease's rounded-up TTL ends.
   */
  readonly capabilities: LockCapabilities = Object.freeze({
    ttlGranularityMs: 1_000,
    minTtlMs: ETCD_MIN_TTL_MS,
    fencing: 'strict',
  });
  /** The client requests go through (yours, or the one created from your options). */
  readonly client: EtcdClient;
  /** See {@link EtcdLockOptions.prefix}. */
  readonly prefix: string;
  /** See {@link EtcdLockOptions.callTimeout}. */
  readonly callTimeout: number;

  protected readonly pool: LeasePool;
  readonly #ownsClient: boolean;
  readonly #entries = new Set<KeyEntry>();
  // Every queued waiter listens to this one signal, so Node's 10-listener warning does not apply.
  readonly #closing = unlimitedListeners(new AbortController());
  readonly #waits = new Set<Promise<unknown>>();
  readonly #cleanups = new Set<Promise<void>>();

  protected constructor(
    client: EtcdClient | IOptions,
    options: EtcdLockOptions,
    defaultPrefix: string,
    known: { names: readonly string[]; what: string },
  ) {
    super(options, { names: ['prefix', 'callTimeout', 'leaseIdleTimeout', ...known.names], what: known.what });
    const resolved = resolveEtcdOptions(options, defaultPrefix);
    this.prefix = resolved.prefix;
    this.callTimeout = resolved.callTimeout;
    const c = resolveEtcdClient(client, { callTimeout: resolved.callTimeout });
    this.client = c.client;
    this.#ownsClient = c.owned;
    this.pool = new LeasePool(this.client, {
      clock: this.clock,
      keepAliveTimeout: resolved.callTimeout,
      idleTimeout: resolved.leaseIdleTimeout,
      sentinelKey: (leaseHex) => leaseSentinelKey(this.prefix, leaseHex),
      onLost: (lease, error) => this.#onLeaseLost(lease, error),
    });
  }

  /** Aborts (with `LockClosedError`) when close() starts: queued waiters give up. */
  protected get closingSignal(): AbortSignal {
    return this.#closing.signal;
  }

  // ---- entries ------------------------------------------------------------------------------

  /** Called once when `entry` is gone for good (its key deleted, or its lease lost). */
  protected entryFinished(_entry: KeyEntry): void {}

  /**
   * Starts tracking `entry` once its put is confirmed, so that the loss of its lease reaches it
   * (a queued waiter fails, a holder's signal aborts).
   */
  protected track(entry: KeyEntry): void {
    this.#entries.add(entry);
  }

  /**
   * Gives up a queued (or just acquired, then refused) entry: deletes its key if it is still ours
   * and frees everything. Waits for the first delete attempt only, so an aborted `lock()` rejects
   * promptly; a failed delete is retried in the background while the lease lives (the key would
   * otherwise block the queue for as long as we keep the lease alive).
   */
  protected async removeEntry(entry: KeyEntry): Promise<void> {
    if (entry.finished) return;
    entry.state = 'done';
    let firstAttempt: Promise<unknown> = Promise.resolve();
    const cleanup = (async () => {
      try {
        for (let attempt = 0; ; attempt++) {
          const deleting = this.deleteKey(entry);
          if (attempt === 0) firstAttempt = deleting.catch(() => undefined);
          try {
            await deleting;
            return;
          } catch {
            // Lease gone (its keys went with it), or closing (close() revokes the lease).
            if (entry.lease.state !== 'alive' || this.#closing.signal.aborted) return;
            await abortableDelay(Math.min(2_000, 100 * 2 ** attempt), this.#closing.signal).catch(() => undefined);
          }
        }
      } finally {
        this.#finish(entry);
      }
    })();
    this.#cleanups.add(cleanup);
    void cleanup.then(() => this.#cleanups.delete(cleanup));
    await firstAttempt;
  }

  /**
   * Owner-checked delete of `entry`'s key: `true` if it was ours (its value is our token, and its
   * create revision ours when known) and is now gone.
   */
  protected async deleteKey(entry: KeyEntry): Promise<boolean> {
    // rev 0: the put's answer never came, so the key may exist with a revision we do not know;
    // the token still tells whether it is ours.
    const compare = [valueIs(entry.key, entry.token)];
    if (entry.rev !== 0n) compare.push(createRevisionIs(entry.key, entry.rev));
    const response = await this.client.kv.txn({ compare, success: [deleteOp(entry.key)] });
    return response.succeeded;
  }

  /**
   * For each held lock, whether its key still exists with its create revision and holds the
   * handle's token (one read-only txn per 64 keys). Pass only locks `#entryOf` accepted.
   */
  protected async keysAreOurs(locks: readonly HeldLock[]): Promise<boolean[]> {
    const results: boolean[] = [];
    for (let i = 0; i < locks.length; i += KEYS_PER_CHECK) {
      const chunk = locks.slice(i, i + KEYS_PER_CHECK);
      const response = await this.client.kv.txn({ success: chunk.map((l) => getOp((l.data as KeyEntry).key)) });
      chunk.forEach((l, j) => {
        const kv = rangeKvs(response, j)[0];
        results.push(
          kv !== undefined && kv.create_revision === (l.data as KeyEntry).rev.toString() && kv.value.toString('utf8') === l.token,
        );
      });
    }
    return results;
  }

  /**
   * The entry of `lock` when `lock` is a handle this instance gave out: its entry is one this
   * instance tracks and carries the handle's token. A handle put together by hand (another
   * holder's key or entry with some other token) gets `undefined`: it owns nothing here, and
   * nothing of the real holder's is touched. etcd checks the token again in every txn.
   */
  #entryOf(lock: HeldLock): KeyEntry | undefined {
    const entry = lock.data as KeyEntry | undefined;
    return entry !== undefined && this.#entries.has(entry) && entry.token === lock.token ? entry : undefined;
  }

  /**
   * Starts (when needed) a keep-alive proving the lease outlives `startedAt + ttl`, and resolves
   * to the latest moment etcd surely keeps it: the acquire's `validFrom` is derived from it.
   * Never rejects with a transient error (then the last confirmed value is used); rejects with
   * `EtcdLeaseLostError` when etcd says the lease is gone.
   */
  protected leaseAliveUntil(lease: PooledLease, startedAt: number, ttl: number): Promise<number> {
    // Up to 5 % of the TTL (at most 100 ms) of validity is traded for sharing keep-alives
    // between acquisitions that follow each other closely.
    const slack = Math.min(100, ttl / 20);
    if (lease.aliveUntil >= startedAt + ttl - slack) return Promise.resolve(lease.aliveUntil);
    const fresh = this.pool.freshen(lease, startedAt - slack).catch((error: unknown) => {
      if (error instanceof EtcdLeaseLostError) throw error;
      return lease.aliveUntil;
    });
    fresh.catch(() => undefined); // may be awaited only after the txn; never unhandled meanwhile
    return fresh;
  }

  /**
   * Retries `step` on transient errors (backoff 50 ms to 1 s) until it succeeds, `signal`
   * aborts, the entry is lost, or the errors outlast `deadline` or `budgetMs`: then the last
   * error is thrown, so that `lock()` reports why it did not acquire instead of a bare timeout.
   */
  protected async retrying<T>(
    step: () => Promise<T>,
    o: { deadline: number; signal: AbortSignal; budgetMs: number; entry?: KeyEntry },
  ): Promise<T> {
    let failingSince: number | undefined;
    for (let attempt = 0; ; attempt++) {
      if (o.entry?.lost !== undefined) throw o.entry.lost;
      o.signal.throwIfAborted();
      try {
        return await step();
      } catch (error) {
        if (!isTransientEtcdError(error)) throw error;
        const now = this.clock.now();
        failingSince ??= now;
        if (now - failingSince >= o.budgetMs || now >= o.deadline) throw error;
        await abortableDelay(Math.min(1_000, 50 * 2 ** attempt, o.deadline - now), o.signal);
      }
    }
  }

  /** Keeps `wait` (a queued `lock()`) in the set close() waits for. */
  protected trackWait<T>(wait: Promise<T>): Promise<T> {
    this.#waits.add(wait);
    const forget = () => this.#waits.delete(wait);
    wait.then(forget, forget);
    return wait;
  }

  // ---- BaseLock primitives shared by both locks ---------------------------------------------

  protected async releaseOnce(lock: HeldLock): Promise<boolean> {
    const entry = this.#entryOf(lock);
    if (entry?.state !== 'held') return false;
    entry.state = 'releasing';
    let released: boolean;
    try {
      released = await this.#deleteOwnKey(entry, lock.token);
    } catch (error) {
      entry.state = 'held'; // still ours as far as we know: unlock() may be called again
      throw error;
    }
    this.#finish(entry);
    return released;
  }

  /**
   * Renewing is a keep-alive of the lock's lease (shared with the lease's other locks) plus a
   * check that the key is still ours. A new TTL that needs a lease of another length moves the
   * key to that lease (same key, same create revision, so the fencing token is unchanged).
   */
  protected async renewOnce(lock: HeldLock, ttl: number): Promise<boolean> {
    const entry = this.#entryOf(lock);
    if (entry?.state !== 'held') return false;
    const startedAt = this.clock.now();
    if (LeasePool.seconds(ttl) !== entry.lease.seconds) return this.#moveToLease(entry, lock.token, ttl, startedAt);
    const [alive, [ours]] = await Promise.all([this.#leaseAlive(entry.lease, startedAt), this.keysAreOurs([lock])]);
    return alive && ours === true;
  }

  /** One keep-alive per lease and one ownership txn per 64 keys for a whole watchdog tick. */
  protected override async renewManyOnce(locks: readonly HeldLock[]): Promise<Array<boolean | Error>> {
    const startedAt = this.clock.now();
    // Locks whose TTL still matches their lease; the others move lease one by one (renewOnce).
    const batch = new Map<HeldLock, number>();
    const leases = new Map<PooledLease, Promise<boolean | Error>>();
    for (const lock of locks) {
      const entry = this.#entryOf(lock);
      if (entry?.state !== 'held' || LeasePool.seconds(lock.ttl) !== entry.lease.seconds) continue;
      batch.set(lock, batch.size);
      if (!leases.has(entry.lease)) leases.set(entry.lease, this.#leaseAlive(entry.lease, startedAt).catch(asError));
    }
    const owned = this.keysAreOurs([...batch.keys()]).catch(asError);
    const [ours, ...alive] = await Promise.all([owned, ...leases.values()]);
    const aliveOf = new Map([...leases.keys()].map((lease, i) => [lease, alive[i]!]));
    return Promise.all(
      locks.map(async (lock): Promise<boolean | Error> => {
        const entry = this.#entryOf(lock);
        if (entry === undefined) return false;
        // A release under way decides this lock's fate: neither extend its validity (nothing was
        // confirmed) nor report it lost; the watchdog just tries again later.
        if (entry.state === 'releasing') return new Error('a release of this lock is under way');
        if (entry.state !== 'held') return false;
        const index = batch.get(lock);
        if (index === undefined) return this.renewOnce(lock, lock.ttl).catch(asError);
        const leaseAlive = aliveOf.get(entry.lease);
        if (leaseAlive === undefined) return this.renewOnce(lock, lock.ttl).catch(asError); // moved meanwhile
        if (leaseAlive instanceof Error) return leaseAlive;
        if (ours instanceof Error) return leaseAlive ? ours : false;
        return leaseAlive && ours[index] === true;
      }),
    );
  }

  /** A lost lock's key is deleted if it may still exist (it expired here, not in etcd). */
  protected override reportLost(lock: HeldLock, reason: string, cause?: unknown): void {
    super.reportLost(lock, reason, cause);
    const entry = this.#entryOf(lock);
    if (entry?.state !== 'held') return;
    if (entry.lease.state === 'alive') void this.removeEntry(entry);
    else this.#finish(entry);
  }

  /** A waiting `lock()` retries everything but bad credentials, missing permissions and invalid requests. */
  protected override isTransientError(error: unknown): boolean {
    return !isPermanentEtcdError(error);
  }

  protected override async closeBackend(): Promise<void> {
    this.#closing.abort(new LockClosedError(`${this.backend} lock`, 'lock'));
    await Promise.allSettled([...this.#waits]);
    await Promise.allSettled([...this.#cleanups]);
    await this.pool.close();
    if (this.#ownsClient) this.client.close();
  }

  /** The lease TTL left of a key's lease in ms (`-1`: the key has no lease). */
  protected async leaseTtlMs(leaseId: string): Promise<number> {
    if (leaseId === '0') return -1;
    const response = await this.client.leaseClient.leaseTimeToLive({ ID: leaseId });
    return Math.max(0, Number(response.TTL) * 1_000);
  }

  // ---- internals ----------------------------------------------------------------------------

  /**
   * The release txn: `If(createRevision(key) == rev && value(key) == token) Then(delete key)
   * Else(get key)`. Ownership is the token: the create revision is the public fencing token, so
   * it alone would let anyone who read it (inspect()) delete the holder's key. A miss is not
   * always a loss: the client retries a call whose answer was lost (a member paused or
   * partitioned mid-call), and the retry finds the key its own first attempt deleted. So a
   * missing key counts as released while our lease lives (only a lease's end, or another client
   * deleting our key, removes it otherwise); it counts as lost when etcd says the lease is gone,
   * or when the key now holds another token or revision.
   */
  async #deleteOwnKey(entry: KeyEntry, token: string): Promise<boolean> {
    const response = await this.client.kv.txn({
      compare: [createRevisionIs(entry.key, entry.rev), valueIs(entry.key, token)],
      success: [deleteOp(entry.key)],
      failure: [getOp(entry.key, true)],
    });
    if (response.succeeded) return true;
    if (rangeKvs(response, 0).length > 0) return false;
    try {
      return await this.#leaseAlive(entry.lease, this.clock.now());
    } catch {
      return true; // cannot ask: the key is gone either way, and nothing of ours is left to free
    }
  }

  async #leaseAlive(lease: PooledLease, startedAt: number): Promise<boolean> {
    try {
      await this.pool.freshen(lease, startedAt);
      return true;
    } catch (error) {
      if (error instanceof EtcdLeaseLostError) return false;
      throw error;
    }
  }

  /**
   * Re-puts the key with the lease for `ttl` (same value; a put keeps the create revision), if
   * it still holds `token` at our create revision. An `EtcdMutex` key keeps its name, which then
   * names the old lease: harmless, since Go's Mutex and ours only compare create revisions, and
   * this instance queues once per name.
   */
  async #moveToLease(entry: KeyEntry, token: string, ttl: number, startedAt: number): Promise<boolean> {
    const target = await this.pool.use(ttl);
    try {
      const [response] = await Promise.all([
        this.client.kv.txn({
          compare: [createRevisionIs(entry.key, entry.rev), valueIs(entry.key, token)],
          success: [putOp(entry.key, token, target.id)],
        }),
        this.#leaseAlive(target, startedAt),
      ]);
      if (!response.succeeded || entry.state !== 'held') {
        this.pool.unuse(target);
        return false;
      }
    } catch (error) {
      this.pool.unuse(target);
      throw error;
    }
    const previous = entry.lease;
    entry.lease = target;
    this.pool.unuse(previous);
    return true;
  }

  /** etcd dropped a lease, and with it every key on it: waiters fail, holders are lost. */
  #onLeaseLost(lease: PooledLease, error: EtcdLeaseLostError): void {
    const handles = new Map(this.heldLocks().map((h) => [h.data, h]));
    for (const entry of [...this.#entries]) {
      if (entry.lease !== lease) continue;
      if (entry.state === 'queued') {
        entry.lost ??= new EtcdLeaseLostError(lease.hex, 'was revoked or has expired while waiting', { key: entry.name, cause: error });
        entry.wake?.();
      } else if (entry.state === 'held') {
        const handle = handles.get(entry);
        if (handle !== undefined) this.reportLost(handle, `its lease ${lease.hex} was revoked or has expired`, error);
        else this.#finish(entry);
      }
    }
  }

  #finish(entry: KeyEntry): void {
    entry.state = 'done';
    entry.wake = undefined;
    if (entry.finished) return;
    entry.finished = true;
    this.#entries.delete(entry);
    this.pool.unuse(entry.lease);
    this.entryFinished(entry);
    const done = entry.onDone;
    entry.onDone = undefined;
    done?.();
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function unlimitedListeners(controller: AbortController): AbortController {
  setMaxListeners(0, controller.signal);
  return controller;
}
