import type { AcquireRequest, AcquireResult, DriverFeatures, DriverHost, HeldLock, LockDriver, LockInfo } from '@dlock/core';
import type { IOptions, ITxnResponse } from 'etcd3';
import { etcdCapabilities } from './capabilities.js';
import type { EtcdClient } from './client.js';
import { DeleteWatch } from './delete-watch.js';
import { newEntry, type KeyEntry } from './entry.js';
import { isLeaseNotFound, isPermanentEtcdError, isTransientEtcdError } from './errors.js';
import { HeldKeys } from './held-keys.js';
import { lockKey } from './keys.js';
import { createRevisionIs, getOp, headerRevision, putOp, rangeKvs } from './ops.js';
import { defaultEtcdLockOptions, type EtcdLockOptions } from './options.js';
import { EtcdSession } from './session.js';

/**
 * The driver of `EtcdLock`: one key per lock, `<prefix><key>`, created only if absent by a txn
 * `If(createRevision(key) == 0) Then(put(key, token, lease))` on the session's shared lease for
 * the TTL, and deleted on release. Waiters are woken by a watch on the key's deletion.
 */
export class EtcdLockDriver implements LockDriver<KeyEntry> {
  readonly backend = 'etcd';
  readonly capabilities = etcdCapabilities;
  readonly features: DriverFeatures<KeyEntry>;
  readonly #client: EtcdClient | IOptions;
  readonly #options: EtcdLockOptions;
  readonly #releaseWatches = new Map<string, DeleteWatch>();
  #attached: { session: EtcdSession; keys: HeldKeys; host: DriverHost<KeyEntry> } | undefined;

  /** The client and options are checked and used once an engine attaches the driver. */
  constructor(client: EtcdClient | IOptions, options: EtcdLockOptions) {
    this.#client = client;
    this.#options = options;
    this.features = Object.freeze({
      claims: ['exclusive'] as const,
      releaseFeed: { watch: (key: string) => this.#watch(key), unwatch: (key: string) => this.#unwatch(key) },
    });
  }

  /** The session (client, prefix, leases) once attached. */
  get session(): EtcdSession {
    return this.#state.session;
  }

  attach(host: DriverHost<KeyEntry>): void {
    const session = new EtcdSession(this.#client, this.#options, defaultEtcdLockOptions.lockPrefix, host.clock, {
      held: () => host.held(),
      lost: (lock, reason, cause) => host.lost(lock, reason, cause),
      finished: () => undefined,
    });
    this.#attached = { session, keys: new HeldKeys(session), host };
  }

  async acquire({ key: name, token, ttl }: AcquireRequest): Promise<AcquireResult<KeyEntry>> {
    const { session } = this.#state;
    const key = lockKey(session.prefix, name);
    const startedAt = session.clock.now();
    for (let attempt = 0; ; attempt++) {
      const lease = session.pool.useNow(ttl) ?? (await session.pool.use(ttl));
      const entry = newEntry(name, key, token, lease);
      const aliveUntil = session.leaseAliveUntil(lease, startedAt, ttl);
      let response: ITxnResponse;
      try {
        response = await session.client.kv.txn({
          compare: [createRevisionIs(key, 0n)],
          success: [putOp(key, token, lease.id)],
          failure: [getOp(key)],
        });
      } catch (error) {
        session.pool.unuse(lease);
        if (isLeaseNotFound(error) && attempt === 0) {
          // Our pooled lease ended without us hearing of it (e.g. a long pause): once more on a new one.
          session.pool.markLost(lease, error);
          continue;
        }
        if (isTransientEtcdError(error)) session.deleteOrphan(key, token);
        throw error;
      }
      const existing = rangeKvs(response, 0)[0];
      if (response.succeeded) entry.rev = headerRevision(response);
      // The client retried a txn whose first attempt had been applied: the key holds our token.
      else if (existing !== undefined && existing.value.toString('utf8') === token) entry.rev = BigInt(existing.create_revision);
      else {
        session.pool.unuse(lease);
        return { acquired: false, retryAfter: -1 };
      }
      entry.state = 'held';
      session.track(entry);
      let until: number;
      try {
        until = await aliveUntil;
      } catch (error) {
        await session.remove(entry);
        throw error;
      }
      return { acquired: true, fencingToken: entry.rev, data: entry, validFrom: Math.min(startedAt, until - ttl) };
    }
  }

  release(lock: HeldLock<KeyEntry>): Promise<boolean> {
    return this.#state.keys.release(lock);
  }

  renew(lock: HeldLock<KeyEntry>, ttl: number): Promise<boolean> {
    return this.#state.keys.renew(lock, ttl);
  }

  renewMany(locks: readonly HeldLock<KeyEntry>[]): Promise<Array<boolean | Error>> {
    return this.#state.keys.renewMany(locks);
  }

  abandon(lock: HeldLock<KeyEntry>): void {
    this.#state.keys.abandon(lock);
  }

  async inspect(name: string): Promise<LockInfo | null> {
    const { session } = this.#state;
    const response = await session.client.kv.range({ key: lockKey(session.prefix, name) });
    const kv = response.kvs[0];
    if (kv === undefined) return null;
    return {
      key: name,
      holder: kv.value.toString('utf8').slice(0, 8),
      ttlRemaining: await session.leaseTtlMs(kv.lease),
      fencingToken: BigInt(kv.create_revision),
    };
  }

  /** A waiting `lock()` retries everything but bad credentials, missing permissions and invalid requests. */
  isTransient(error: unknown): boolean {
    return !isPermanentEtcdError(error);
  }

  async close(): Promise<void> {
    for (const watch of this.#releaseWatches.values()) watch.cancel();
    this.#releaseWatches.clear();
    await this.#attached?.session.close();
  }

  get #state(): { session: EtcdSession; keys: HeldKeys; host: DriverHost<KeyEntry> } {
    if (this.#attached === undefined) throw new Error('EtcdLockDriver: used before a lock engine attached it');
    return this.#attached;
  }

  /** Wakes this instance's waiters when the key is deleted (released, expired or revoked). */
  async #watch(name: string): Promise<void> {
    const { session, host } = this.#state;
    const watch = new DeleteWatch(session.client, lockKey(session.prefix, name), undefined, () => host.released(name));
    this.#releaseWatches.get(name)?.cancel();
    this.#releaseWatches.set(name, watch);
    // Until the watch is confirmed, waiters fall back to polling every maxRetryDelay.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([watch.ready, new Promise<void>((resolve) => (timer = setTimeout(resolve, session.callTimeout)))]);
    clearTimeout(timer);
  }

  #unwatch(name: string): void {
    this.#releaseWatches.get(name)?.cancel();
    this.#releaseWatches.delete(name);
  }
}
