import { setMaxListeners } from 'node:events';
import { abortableDelay, LockClosedError, Outage, type Clock, type DriverHost, type HeldLock } from '@dlock/core';
import type { IOptions } from 'etcd3';
import { resolveEtcdClient, type EtcdClient } from './client.js';
import type { KeyEntry } from './entry.js';
import { EtcdLeaseLostError } from './errors.js';
import { leaseSentinelKey } from './keys.js';
import { LeasePool, type PooledLease } from './lease-pool.js';
import { createRevisionIs, deleteOp, valueIs } from './ops.js';
import { resolveEtcdOptions, type EtcdLockOptions } from './options.js';

/** Longest pause between two attempts of a background delete, in ms. */
const MAX_CLEANUP_DELAY_MS = 2_000;

/** A background delete of a key that never became a lock gives up after this long, in ms. */
const ORPHAN_CLEANUP_MS = 6_000;

/** What a session reports to the lock it serves. */
export interface SessionHost extends Pick<DriverHost<KeyEntry>, 'held' | 'lost'> {
  /** `entry` is gone for good (its key deleted, or its lease lost); called once per entry. */
  finished(entry: KeyEntry): void;
}

/**
 * A request run in the background until it succeeds, backing off after failures (core's
 * `Outage`) while `worth()` and the session is open, for at most `limitMs` of failures; then
 * `done`. `closeWaits`: close() waits for it.
 */
interface Cleanup {
  step(): Promise<unknown>;
  worth(): boolean;
  limitMs: number;
  done(): void;
  closeWaits: boolean;
}

/**
 * What the locks of one instance share, as etcd's Go `concurrency.Session`: the client, one
 * kept-alive lease per TTL ({@link LeasePool}) carrying every key the instance puts, and the
 * keys themselves ({@link KeyEntry}) while they are in etcd.
 *
 * The session fans the loss of a lease out to the entries on it (a queued waiter fails, a
 * holder is reported lost to the engine), gives keys back in the background until etcd
 * confirms, signals closing to queued waiters, and on {@link close} waits for all of that and
 * revokes its leases.
 */
export class EtcdSession {
  /** The client requests go through (yours, or the one created from your options). */
  readonly client: EtcdClient;
  /** Namespace of every key the lock writes. */
  readonly prefix: string;
  /** The longest one request to etcd takes (see `EtcdLockOptions.callTimeout`), in ms. */
  readonly callTimeout: number;
  readonly clock: Clock;
  readonly pool: LeasePool;
  readonly #ownsClient: boolean;
  readonly #host: SessionHost;
  readonly #entries = new Set<KeyEntry>();
  // Every queued waiter listens to this one signal, so Node's 10-listener warning does not apply.
  readonly #closing = new AbortController();
  readonly #waits = new Set<Promise<unknown>>();
  readonly #cleanups = new Set<Promise<void>>();

  /**
   * Validates the etcd options, then opens (or adopts) the client: nothing is opened when an
   * option is bad.
   */
  constructor(client: EtcdClient | IOptions, options: EtcdLockOptions, defaultPrefix: string, clock: Clock, host: SessionHost) {
    const resolved = resolveEtcdOptions(options, defaultPrefix);
    const c = resolveEtcdClient(client, { callTimeout: resolved.callTimeout });
    this.client = c.client;
    this.#ownsClient = c.owned;
    this.prefix = resolved.prefix;
    this.callTimeout = resolved.callTimeout;
    this.clock = clock;
    this.#host = host;
    setMaxListeners(0, this.#closing.signal);
    this.pool = new LeasePool(this.client, {
      clock,
      keepAliveTimeout: resolved.callTimeout,
      idleTimeout: resolved.leaseIdleTimeout,
      sentinelKey: (hex) => leaseSentinelKey(this.prefix, hex),
      onLost: (lease, error) => this.#onLeaseLost(lease, error),
    });
  }

  /** Aborts (with `LockClosedError`) when close() starts: queued waiters give up. */
  get closing(): AbortSignal {
    return this.#closing.signal;
  }

  get closed(): boolean {
    return this.#closing.signal.aborted;
  }

  /**
   * Starts tracking `entry` once its put is confirmed, so that the loss of its lease reaches it
   * (a queued waiter fails, a holder is reported lost).
   */
  track(entry: KeyEntry): void {
    this.#entries.add(entry);
  }

  /**
   * The entry of `lock` when `lock` is a handle this session gave out: its entry is one this
   * session tracks and carries the handle's token. A handle put together by hand (another
   * holder's key or entry with some other token) gets `undefined`: it owns nothing here, and
   * nothing of the real holder's is touched. etcd checks the token again in every txn.
   */
  entryOf(lock: HeldLock<KeyEntry>): KeyEntry | undefined {
    const entry = lock.data;
    return this.#entries.has(entry) && entry.token === lock.token ? entry : undefined;
  }

  /**
   * Gives up a queued (or just acquired, then refused or lost) entry: deletes its key if it is
   * still ours and frees everything. Waits for the first delete attempt only, so an aborted
   * `lock()` rejects promptly; a failed delete is retried in the background while the lease
   * lives (the key would otherwise block the queue for as long as we keep the lease alive).
   */
  async remove(entry: KeyEntry): Promise<void> {
    if (entry.finished) return;
    entry.state = 'done';
    let firstAttempt: Promise<unknown> = Promise.resolve();
    let attempts = 0;
    this.#background({
      step: () => {
        const deleting = this.#deleteKey(entry);
        if (attempts++ === 0) firstAttempt = deleting.catch(() => undefined);
        return deleting;
      },
      // Lease gone (its keys went with it), or closing (close() revokes the lease).
      worth: () => entry.lease.state === 'alive',
      limitMs: Infinity,
      done: () => this.finish(entry),
      closeWaits: true,
    });
    await firstAttempt;
  }

  /**
   * A txn that failed in transit may still have been applied, leaving a key nobody holds (kept
   * alive with our shared lease). Deletes `key` if it carries `token`; best effort, in the
   * background, for a few seconds.
   */
  deleteOrphan(key: Buffer, token: string): void {
    this.#background({
      step: () => this.client.kv.txn({ compare: [valueIs(key, token)], success: [deleteOp(key)] }),
      worth: () => true,
      limitMs: ORPHAN_CLEANUP_MS,
      done: () => undefined,
      // close() revokes the leases, and the key goes with its lease.
      closeWaits: false,
    });
  }

  /** `entry` is gone for good: stop tracking it, give its lease use back, tell the lock. */
  finish(entry: KeyEntry): void {
    entry.state = 'done';
    entry.wake = undefined;
    if (entry.finished) return;
    entry.finished = true;
    this.#entries.delete(entry);
    this.pool.unuse(entry.lease);
    this.#host.finished(entry);
    const done = entry.onDone;
    entry.onDone = undefined;
    done?.();
  }

  /**
   * Starts (when needed) a keep-alive proving the lease outlives `startedAt + ttl`, and resolves
   * to the latest moment etcd surely keeps it: the acquire's `validFrom` is derived from it.
   * Never rejects with a transient error (then the last confirmed value is used); rejects with
   * `EtcdLeaseLostError` when etcd says the lease is gone.
   */
  leaseAliveUntil(lease: PooledLease, startedAt: number, ttl: number): Promise<number> {
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

  /** Whether etcd confirms (with a keep-alive sent at or after `startedAt`) that the lease lives. */
  async leaseAlive(lease: PooledLease, startedAt: number): Promise<boolean> {
    try {
      await this.pool.freshen(lease, startedAt);
      return true;
    } catch (error) {
      if (error instanceof EtcdLeaseLostError) return false;
      throw error;
    }
  }

  /** The lease TTL left of a key's lease in ms (`-1`: the key has no lease). */
  async leaseTtlMs(leaseId: string): Promise<number> {
    if (leaseId === '0') return -1;
    const response = await this.client.leaseClient.leaseTimeToLive({ ID: leaseId });
    return Math.max(0, Number(response.TTL) * 1_000);
  }

  /** Keeps `wait` (a queued `lock()`) in the set close() waits for. */
  trackWait<T>(wait: Promise<T>): Promise<T> {
    this.#waits.add(wait);
    const forget = () => this.#waits.delete(wait);
    wait.then(forget, forget);
    return wait;
  }

  /** Fails queued waiters, waits for them and for background deletes, revokes the leases. */
  async close(): Promise<void> {
    this.#closing.abort(new LockClosedError('etcd lock', 'lock'));
    await Promise.allSettled([...this.#waits]);
    await Promise.allSettled([...this.#cleanups]);
    await this.pool.close();
    if (this.#ownsClient) this.client.close();
  }

  /**
   * Owner-checked delete of `entry`'s key: `true` if it was ours (its value is our token, and its
   * create revision ours when known) and is now gone.
   */
  async #deleteKey(entry: KeyEntry): Promise<boolean> {
    // rev 0: the put's answer never came, so the key may exist with a revision we do not know;
    // the token still tells whether it is ours.
    const compare = [valueIs(entry.key, entry.token)];
    if (entry.rev !== 0n) compare.push(createRevisionIs(entry.key, entry.rev));
    const response = await this.client.kv.txn({ compare, success: [deleteOp(entry.key)] });
    return response.succeeded;
  }

  /** Runs a background cleanup (see {@link Cleanup}). */
  #background({ step, worth, limitMs, done, closeWaits }: Cleanup): void {
    const outage = new Outage(this.clock, MAX_CLEANUP_DELAY_MS, limitMs);
    const cleanup = (async () => {
      try {
        for (;;) {
          try {
            await step();
            return;
          } catch (error) {
            const delay = outage.failed(error instanceof Error ? error : new Error(String(error)));
            if (delay === undefined || !worth() || this.closed) return;
            await abortableDelay(delay, this.#closing.signal).catch(() => undefined);
          }
        }
      } finally {
        done();
      }
    })();
    if (!closeWaits) return;
    this.#cleanups.add(cleanup);
    void cleanup.then(() => this.#cleanups.delete(cleanup));
  }

  /** etcd dropped a lease, and with it every key on it: waiters fail, holders are lost. */
  #onLeaseLost(lease: PooledLease, error: EtcdLeaseLostError): void {
    const handles = new Map(this.#host.held().map((h) => [h.data, h]));
    for (const entry of [...this.#entries]) {
      if (entry.lease !== lease) continue;
      if (entry.state === 'queued') {
        entry.lost ??= new EtcdLeaseLostError(lease.hex, 'was revoked or has expired while waiting', { key: entry.name, cause: error });
        entry.wake?.();
      } else if (entry.state === 'held') {
        const handle = handles.get(entry);
        // The engine's loss report comes back as `abandon`, which finishes the entry.
        if (handle !== undefined) this.#host.lost(handle, `its lease ${lease.hex} was revoked or has expired`, error);
        else this.finish(entry);
      }
    }
  }
}
