import { LockClosedError, type Clock } from '@dlock/core';
import type { EtcdClient } from './client.js';
import { DeleteWatch, type DeleteWatchEvent } from './delete-watch.js';
import { EtcdLeaseLostError, isLeaseNotFound, isTransientEtcdError } from './errors.js';
import { KeepAliveChannel } from './keepalive-channel.js';
import { leaseHex } from './keys.js';
import { putOp } from './ops.js';

/**
 * A shared lease, as the locks see it (read-only).
 *
 * @example
 * ```ts
 * if (lease.state !== 'alive') console.warn(`lease ${lease.hex} is gone`);
 * ```
 */
export interface PooledLease {
  /** etcd's lease id (decimal int64 string). */
  readonly id: string;
  /** The id in lowercase hex (as in `EtcdMutex` keys and `etcdctl lease list`). */
  readonly hex: string;
  /** The TTL asked for, in whole seconds: the pool key. */
  readonly seconds: number;
  /** The TTL etcd granted in ms (at least etcd's minimum, 2 s with default settings). */
  readonly ttlMs: number;
  /** Monotonic time before which etcd surely still has the lease (last confirmed keep-alive). */
  readonly aliveUntil: number;
  /** `alive` while usable; `lost` once etcd said it is gone; `revoked` once we revoked it. */
  readonly state: 'alive' | 'lost' | 'revoked';
}

interface Lease extends PooledLease {
  aliveUntil: number;
  state: 'alive' | 'lost' | 'revoked';
  /** Keys (queued or held) on this lease, plus acquisitions under way. */
  users: number;
  /** Send time of the newest keep-alive (or grant) etcd confirmed. */
  confirmedSentAt: number;
  inflight: { sentAt: number; promise: Promise<number> } | undefined;
  timer: NodeJS.Timeout | undefined;
  /** Pending while the lease may be idle: revokes it once unused for `idleTimeout` ms. */
  idleTimer: NodeJS.Timeout | undefined;
  /** When the lease's users last dropped to 0. */
  idleSince: number;
  failures: number;
  /** Watches the lease's sentinel key: its deletion means the lease is gone (or someone deleted it). */
  sentinel: DeleteWatch | undefined;
}

/** Options of {@link LeasePool}. */
export interface LeasePoolOptions {
  clock: Clock;
  /** Longest wait for etcd to answer one keep-alive, in ms. */
  keepAliveTimeout: number;
  /** A lease no key has used for this long is revoked, in ms. */
  idleTimeout: number;
  /** The sentinel key of a lease (see `leaseSentinelKey`). */
  sentinelKey(leaseHex: string): Buffer;
  /** Called once when etcd says a lease is gone (revoked, expired): its keys are gone too. */
  onLost(lease: PooledLease, error: EtcdLeaseLostError): void;
}

/**
 * One kept-alive lease per TTL (in whole seconds) for all the keys of one lock instance, as
 * etcd's Go `Session` does: a lock costs one txn instead of grant + txn + revoke.
 *
 * A lease is kept alive every third of its TTL while it carries keys. The watchdog and the
 * acquire path ask for a fresh keep-alive ({@link freshen}) when they need to know the lease
 * outlives a deadline; keep-alives already under way or just answered are shared. A lease
 * nobody used for `idleTimeout` ms is revoked.
 *
 * Each lease also carries a sentinel key, watched for deletion: when the lease is revoked
 * (`etcdctl lease revoke`) or expires, etcd deletes its keys, and the pool hears of it at once
 * instead of at the next keep-alive, for one put and one watch per lease (not per lock). Every
 * user then hears of it through `onLost`.
 */
export class LeasePool {
  readonly #client: EtcdClient;
  readonly #channel: KeepAliveChannel;
  readonly #options: LeasePoolOptions;
  readonly #leases = new Map<number, Lease>();
  readonly #granting = new Map<number, Promise<Lease>>();
  #closed = false;

  constructor(client: EtcdClient, options: LeasePoolOptions) {
    this.#client = client;
    this.#channel = new KeepAliveChannel(client);
    this.#options = options;
  }

  /** The lease-pool key of a TTL in ms: whole seconds, rounded up. */
  static seconds(ttlMs: number): number {
    return Math.max(1, Math.ceil(ttlMs / 1_000));
  }

  /** The shared lease for `ttlMs` (granted if there is none), counted as used until {@link unuse}. */
  async use(ttlMs: number): Promise<PooledLease> {
    const seconds = LeasePool.seconds(ttlMs);
    for (;;) {
      if (this.#closed) throw new LockClosedError('etcd lock', 'acquire');
      const lease = this.#leases.get(seconds) ?? (await this.#grant(seconds));
      if (lease.state !== 'alive') continue; // lost or revoked while we waited for the grant
      lease.users++;
      return lease;
    }
  }

  /**
   * {@link use} without waiting: the shared lease for `ttlMs` when there is one alive (counted as
   * used), else `undefined`. Spares the usual acquire a promise.
   */
  useNow(ttlMs: number): PooledLease | undefined {
    const lease = this.#leases.get(LeasePool.seconds(ttlMs));
    if (this.#closed || lease === undefined || lease.state !== 'alive') return undefined;
    lease.users++;
    return lease;
  }

  /** One user less; a lease left unused for `idleTimeout` ms is revoked. */
  unuse(pooled: PooledLease): void {
    const lease = pooled as Lease;
    lease.users = Math.max(0, lease.users - 1);
    if (lease.users > 0 || lease.state !== 'alive' || this.#closed) return;
    lease.idleSince = this.#options.clock.now();
    // A timer already pending checks idleSince when it fires: no clearTimeout/setTimeout pair per
    // lock (one lock at a time drops the users to 0 at every release).
    if (lease.idleTimer === undefined) this.#armIdle(lease, this.#options.idleTimeout);
  }

  /**
   * Resolves to {@link PooledLease.aliveUntil} as confirmed by a keep-alive sent at or after
   * `notBefore` (monotonic ms), sending one unless one is under way or just answered. Rejects
   * with {@link EtcdLeaseLostError} when the lease is gone, or with the client's error when
   * etcd could not be asked.
   */
  freshen(pooled: PooledLease, notBefore: number): Promise<number> {
    const lease = pooled as Lease;
    if (lease.state !== 'alive') return Promise.reject(lostError(lease, 'is no longer alive'));
    if (lease.confirmedSentAt >= notBefore) return Promise.resolve(lease.aliveUntil);
    if (lease.inflight !== undefined && lease.inflight.sentAt >= notBefore) return lease.inflight.promise;
    return this.#keepAlive(lease);
  }

  /** Asks etcd now whether the lease still exists (after one of its keys vanished). */
  check(pooled: PooledLease): void {
    this.freshen(pooled, this.#options.clock.now()).catch(() => undefined);
  }

  /** Marks a lease gone because etcd refused it (e.g. a put with it said "lease not found"). */
  markLost(pooled: PooledLease, cause?: unknown): void {
    this.#lose(pooled as Lease, 'was revoked or has expired', cause);
  }

  /** Stops keep-alives and revokes every lease (best effort, bounded by the client's deadline). */
  async close(): Promise<void> {
    this.#closed = true;
    // A grant answered from now on is revoked at once (see #grant); wait for those under way.
    await Promise.allSettled([...this.#granting.values()]);
    const leases = [...this.#leases.values()];
    await Promise.allSettled(leases.map((lease) => this.#revoke(lease)));
    this.#channel.close();
  }

  #grant(seconds: number): Promise<Lease> {
    const pending = this.#granting.get(seconds);
    if (pending !== undefined) return pending;
    const sentAt = this.#options.clock.now();
    const granting = this.#client.leaseClient
      .leaseGrant({ TTL: seconds })
      .then((response) => {
        const ttlMs = Number(response.TTL) * 1_000;
        const lease: Lease = {
          id: response.ID,
          hex: leaseHex(response.ID),
          seconds,
          ttlMs,
          aliveUntil: sentAt + ttlMs,
          state: 'alive',
          users: 0,
          confirmedSentAt: sentAt,
          inflight: undefined,
          timer: undefined,
          idleTimer: undefined,
          idleSince: sentAt,
          failures: 0,
          sentinel: undefined,
        };
        if (this.#closed) {
          this.#revoke(lease).catch(() => undefined);
          throw new LockClosedError('etcd lock', 'acquire');
        }
        this.#leases.set(seconds, lease);
        this.#schedule(lease);
        this.#guard(lease, 0);
        return lease;
      })
      .finally(() => this.#granting.delete(seconds));
    this.#granting.set(seconds, granting);
    return granting;
  }

  /** Revokes the lease after `delay` ms if it is unused then and has been for `idleTimeout` ms. */
  #armIdle(lease: Lease, delay: number): void {
    lease.idleTimer = setTimeout(() => {
      lease.idleTimer = undefined;
      if (lease.users > 0 || lease.state !== 'alive' || this.#closed) return; // the next unuse arms again
      const left = lease.idleSince + this.#options.idleTimeout - this.#options.clock.now();
      if (left > 0) this.#armIdle(lease, left);
      // Best effort: a lease we fail to revoke carries no keys and expires within its TTL.
      else this.#revoke(lease).catch(() => undefined);
    }, delay);
    lease.idleTimer.unref();
  }

  #keepAlive(lease: Lease): Promise<number> {
    const sentAt = this.#options.clock.now();
    const timeout = Math.max(200, Math.min(this.#options.keepAliveTimeout, lease.ttlMs / 2));
    const promise = this.#channel.send(lease.id, timeout).then((ttlSeconds) => {
      if (ttlSeconds <= 0) {
        const error = lostError(lease, 'was revoked or has expired');
        this.#lose(lease, 'was revoked or has expired');
        throw error;
      }
      if (sentAt > lease.confirmedSentAt) {
        lease.confirmedSentAt = sentAt;
        lease.aliveUntil = sentAt + ttlSeconds * 1_000;
      }
      lease.failures = 0;
      if (lease.state === 'alive') this.#schedule(lease);
      return lease.aliveUntil;
    });
    lease.inflight = { sentAt, promise };
    const settle = () => {
      if (lease.inflight?.promise === promise) lease.inflight = undefined;
    };
    promise.then(settle, settle);
    return promise;
  }

  /** Next keep-alive a third of the TTL after the last confirmed one (sooner after a failure). */
  #schedule(lease: Lease): void {
    if (lease.timer !== undefined) clearTimeout(lease.timer);
    const now = this.#options.clock.now();
    const regular = lease.confirmedSentAt + lease.ttlMs / 3 - now;
    const delay = lease.failures === 0 ? regular : Math.min(regular, Math.min(1_000, 100 * 2 ** (lease.failures - 1)));
    lease.timer = setTimeout(() => this.#tick(lease), Math.max(0, delay));
    lease.timer.unref();
  }

  #tick(lease: Lease): void {
    lease.timer = undefined;
    if (lease.state !== 'alive' || this.#closed) return;
    this.freshen(lease, this.#options.clock.now()).catch(() => {
      // Lost leases were reported by #lose. Anything else is transient: try again soon. The
      // lease is not given up on a timer: a lock past its validity is lost through its own
      // deadline, and a waiter keeps its place until etcd says the lease is gone.
      if (lease.state !== 'alive' || this.#closed) return;
      lease.failures++;
      this.#schedule(lease);
    });
  }

  /**
   * Puts the lease's sentinel key (with the lease) and watches it from right after the put.
   * Runs in the background: until it is in place, loss is noticed by keep-alives.
   */
  #guard(lease: Lease, attempt: number): void {
    const key = this.#options.sentinelKey(lease.hex);
    this.#client.kv.txn({ success: [putOp(key, '', lease.id)] }).then(
      (response) => {
        if (lease.state !== 'alive' || lease.sentinel !== undefined) return;
        const from = BigInt(response.header.revision) + 1n;
        lease.sentinel = new DeleteWatch(this.#client, key, from, (event) => this.#onSentinel(lease, event));
      },
      (error: unknown) => {
        if (lease.state !== 'alive') return;
        if (isLeaseNotFound(error)) this.#lose(lease, 'was revoked or has expired', error);
        else if (isTransientEtcdError(error) && attempt < 5) {
          setTimeout(() => this.#guard(lease, attempt + 1), 200 * 2 ** attempt).unref();
        }
      },
    );
  }

  /** The sentinel was deleted (or events may have been missed): ask etcd about the lease. */
  #onSentinel(lease: Lease, event: DeleteWatchEvent): void {
    if (lease.state !== 'alive') return;
    this.#keepAlive(lease).then(
      () => {
        // The lease lives: someone deleted the sentinel by hand. Put it back (same watch).
        if (event === 'deleted' && lease.state === 'alive') {
          this.#client.kv.txn({ success: [putOp(this.#options.sentinelKey(lease.hex), '', lease.id)] }).catch(() => undefined);
        }
      },
      () => undefined, // lost: reported by #lose; transient: keep-alives go on
    );
  }

  #lose(lease: Lease, detail: string, cause?: unknown): void {
    if (lease.state !== 'alive') return;
    lease.state = 'lost';
    this.#forget(lease);
    this.#options.onLost(lease, lostError(lease, detail, cause));
  }

  async #revoke(lease: Lease): Promise<void> {
    if (lease.state === 'alive') lease.state = 'revoked';
    this.#forget(lease);
    try {
      await this.#client.leaseClient.leaseRevoke({ ID: lease.id });
    } catch (error) {
      if (!isLeaseNotFound(error)) throw error;
    }
  }

  #forget(lease: Lease): void {
    if (this.#leases.get(lease.seconds) === lease) this.#leases.delete(lease.seconds);
    lease.sentinel?.cancel();
    if (lease.timer !== undefined) clearTimeout(lease.timer);
    if (lease.idleTimer !== undefined) clearTimeout(lease.idleTimer);
    lease.timer = undefined;
    lease.idleTimer = undefined;
  }
}

function lostError(lease: PooledLease, detail: string, cause?: unknown): EtcdLeaseLostError {
  return new EtcdLeaseLostError(lease.hex, detail, { cause });
}
