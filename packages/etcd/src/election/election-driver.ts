import {
  LockClosedError,
  MAX_TIMER_DELAY,
  type AcquireRequest,
  type AcquireResult,
  type DriverFeatures,
  type DriverHost,
  type ElectionDriver,
  type HeldLock,
  type LeaderInfo,
  type LockInfo,
  type QueueWait,
} from '@dlock/core';
import type { IOptions } from 'etcd3';
import { etcdCapabilities } from '../capabilities.js';
import type { EtcdClient } from '../client.js';
import { DeleteWatch } from '../delete-watch.js';
import { newEntry, type KeyEntry } from '../entry.js';
import { EtcdLeaseLostError, isLeaseNotFound, isPermanentEtcdError } from '../errors.js';
import { mutexPrefix, mutexQueueKey } from '../keys.js';
import { checkQueue, queueHead } from '../mutex-protocol.js';
import type { EtcdLockOptions } from '../options.js';
import { EtcdSession } from '../session.js';
import { CandidateKeys } from './candidate-keys.js';
import { observeElection } from './observe.js';
import { joinElection, proclaimValue } from './protocol.js';

/** The prefix of an `EtcdElection` unless one is given. */
export const defaultElectionPrefix = 'dlock/election/';

const NOT_ELECTED: AcquireResult<KeyEntry> = Object.freeze({ acquired: false, retryAfter: -1 });

interface Attached {
  readonly session: EtcdSession;
  readonly keys: CandidateKeys;
  readonly host: DriverHost<KeyEntry>;
}

/**
 * The driver of `EtcdElection`: Go's `concurrency.Election` on the session's shared leases, with
 * a native queue (`features.queue`). A candidate puts `<prefix><name>/<lease hex>` holding its
 * value; it leads when its key is the oldest of the directory, and otherwise watches only the
 * key just older than its own until that one is deleted, then looks again (a resign wakes one
 * candidate, whatever the number waiting). The term is the leader key's create revision.
 */
export class EtcdElectionDriver implements ElectionDriver<KeyEntry> {
  readonly backend = 'etcd';
  readonly capabilities = etcdCapabilities;
  readonly features: DriverFeatures<KeyEntry>;
  readonly campaigns = new Map<string, string>();
  readonly #client: EtcdClient | IOptions;
  readonly #options: EtcdLockOptions;
  #attached: Attached | undefined;

  constructor(client: EtcdClient | IOptions, options: EtcdLockOptions) {
    this.#client = client;
    this.#options = options;
    this.features = Object.freeze({
      claims: ['exclusive'] as const,
      queue: (request: AcquireRequest, wait: QueueWait) => this.#queue(request, wait),
    });
  }

  get session(): EtcdSession {
    return this.#state.session;
  }

  attach(host: DriverHost<KeyEntry>): void {
    const session = new EtcdSession(this.#client, this.#options, defaultElectionPrefix, host.clock, {
      held: () => host.held(),
      lost: (lock, reason, cause) => host.lost(lock, reason, cause),
      finished: () => undefined,
    });
    this.#attached = { session, keys: new CandidateKeys(session), host };
  }

  /** The election's directory: `<prefix><name>/` (what `etcdctl elect` takes as `<name>` is this without the `/`). */
  directory(name: string): Buffer {
    return mutexPrefix(this.#state.session.prefix, name);
  }

  /** One attempt: lead if nobody does, else leave again. */
  acquire({ key: name, token, ttl }: AcquireRequest): Promise<AcquireResult<KeyEntry>> {
    return this.#campaign(name, token, ttl, -Infinity, this.#state.session.closing);
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

  async proclaim(lock: HeldLock<KeyEntry>, value: string): Promise<boolean> {
    const { session, keys, host } = this.#state;
    const entry = session.entryOf(lock);
    const ours = entry?.state === 'held' && (await proclaimValue(session.client, entry, value));
    if (!ours) {
      host.lost(lock, 'its key was gone when it proclaimed');
      return false;
    }
    keys.setValue(entry, value);
    return true;
  }

  async leader(name: string): Promise<LeaderInfo | null> {
    const head = await queueHead(this.#state.session.client, this.directory(name));
    return head === undefined ? null : { value: head.value.toString('utf8'), term: BigInt(head.create_revision) };
  }

  observe(name: string, emit: (leader: LeaderInfo | null) => void, signal: AbortSignal): Promise<void> {
    return observeElection(this.#state.session.client, this.directory(name), emit, signal);
  }

  /** The leader's key as a lock: `holder` is its lease in hex (etcd keeps no token for it). */
  async inspect(name: string): Promise<LockInfo | null> {
    const { session } = this.#state;
    const head = await queueHead(session.client, this.directory(name));
    if (head === undefined) return null;
    return {
      key: name,
      holder: BigInt(head.lease).toString(16).slice(0, 8),
      ttlRemaining: await session.leaseTtlMs(head.lease),
      fencingToken: BigInt(head.create_revision),
    };
  }

  isTransient(error: unknown): boolean {
    return !isPermanentEtcdError(error);
  }

  async close(): Promise<void> {
    await this.#attached?.session.close();
  }

  get #state(): Attached {
    if (this.#attached === undefined) throw new Error('EtcdElectionDriver: used before an election attached it');
    return this.#attached;
  }

  /** campaign(): wait in etcd's queue until elected, the deadline or the signal (the `queue` feature). */
  async #queue({ key: name, token, ttl }: AcquireRequest, wait: QueueWait): Promise<AcquireResult<KeyEntry>> {
    const { session } = this.#state;
    const link = linkSignals(wait.signal, session.closing);
    try {
      return await session.trackWait(this.#campaign(name, token, ttl, wait.deadline, link.signal));
    } catch (error) {
      if (wait.signal?.aborted) throw wait.signal.reason;
      if (session.closed) throw new LockClosedError('etcd election', 'campaign', name);
      throw error;
    } finally {
      link.dispose();
    }
  }

  async #campaign(name: string, token: string, ttl: number, deadline: number, signal: AbortSignal): Promise<AcquireResult<KeyEntry>> {
    const { session, keys } = this.#state;
    const value = this.campaigns.get(name) ?? '';
    const dir = this.directory(name);
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted();
      const startedAt = session.clock.now();
      const lease = await session.pool.use(ttl);
      const entry = newEntry(name, mutexQueueKey(dir, lease.hex), token, lease);
      try {
        const aliveUntil = session.leaseAliveUntil(entry.lease, startedAt, ttl);
        await joinElection(session.client, entry, value, () => session.track(entry));
        keys.setValue(entry, value);
        await aliveUntil;
        const result = await this.#waitTurn(entry, dir, ttl, deadline, signal);
        if (!result.acquired) await keys.remove(entry);
        return result;
      } catch (error) {
        if (entry.rev === 0n) {
          session.pool.unuse(lease);
          // A pooled lease that etcd had dropped already: take a fresh one, once.
          if (isLeaseNotFound(error) && attempt === 0) {
            session.pool.markLost(lease, error);
            continue;
          }
        } else {
          await keys.remove(entry);
        }
        throw error;
      }
    }
  }

  /**
   * Waits until no candidate older than ours is left (Go's `waitDeletes`), watching only the
   * newest older one; then our key must still exist. Elected, or not (deadline).
   */
  async #waitTurn(entry: KeyEntry, dir: Buffer, ttl: number, deadline: number, signal: AbortSignal): Promise<AcquireResult<KeyEntry>> {
    const { session } = this.#state;
    for (;;) {
      const checkedAt = session.clock.now();
      const aliveUntil = session.leaseAliveUntil(entry.lease, checkedAt, ttl);
      const check = await checkQueue(session.client, dir, entry);
      if (entry.lost !== undefined) throw entry.lost;
      if (!check.mine) {
        session.pool.check(entry.lease);
        throw new EtcdLeaseLostError(entry.lease.hex, 'no longer carries the candidate key: it was revoked or expired, or the key was deleted', { key: entry.name });
      }
      if (check.ahead === undefined) {
        entry.state = 'held';
        entry.wake = undefined;
        return { acquired: true, fencingToken: entry.rev, data: entry, validFrom: Math.min(checkedAt, (await aliveUntil) - ttl) };
      }
      aliveUntil.catch(() => undefined);
      const left = deadline - session.clock.now();
      if (left <= 0) return NOT_ELECTED;
      signal.throwIfAborted();
      await new Promise<void>((resolve, reject) => {
        const timer = Number.isFinite(left) ? setTimeout(done, Math.min(left, MAX_TIMER_DELAY)) : undefined;
        const watch = new DeleteWatch(session.client, check.ahead!, check.revision + 1n, done);
        const onAbort = () => done();
        entry.wake = done;
        signal.addEventListener('abort', onAbort, { once: true });
        function done(): void {
          clearTimeout(timer);
          watch.cancel();
          signal.removeEventListener('abort', onAbort);
          entry.wake = undefined;
          if (signal.aborted) reject(signal.reason);
          else resolve();
        }
      });
    }
  }
}

/** A signal that aborts when either does (with that one's reason); `dispose` detaches it. */
function linkSignals(a: AbortSignal | undefined, b: AbortSignal): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const sources = a === undefined ? [b] : [a, b];
  const listeners = sources.map((source) => {
    const onAbort = () => controller.abort(source.reason);
    if (source.aborted) controller.abort(source.reason);
    else source.addEventListener('abort', onAbort, { once: true });
    return () => source.removeEventListener('abort', onAbort);
  });
  return { signal: controller.signal, dispose: () => listeners.forEach((remove) => remove()) };
}
