import {
  LockClosedError,
  MAX_TIMER_DELAY,
  SemaphoreLimitMismatchError,
  type AcquireRequest,
  type AcquireResult,
  type Claim,
  type ClaimHolder,
  type ClaimKind,
  type DriverFeatures,
  type DriverHost,
  type HeldLock,
  type KeyHolders,
  type LockDriver,
  type LockInfo,
  type QueueWait,
} from '@dlock/core';
import type { IOptions } from 'etcd3';
import { etcdCapabilities } from '../capabilities.js';
import type { EtcdClient } from '../client.js';
import { newEntry, type KeyEntry } from '../entry.js';
import { EtcdLeaseLostError, isLeaseNotFound, isPermanentEtcdError } from '../errors.js';
import { HeldKeys } from '../held-keys.js';
import { mutexPrefix } from '../keys.js';
import { linkSignals } from '../mutex-driver.js';
import type { EtcdLockOptions } from '../options.js';
import { EtcdSession } from '../session.js';
import { admitted, claimKey, claimValue, fitsAfter, otherLimit, type ClaimKv } from './claim-codec.js';
import { checkClaims, joinClaims, markAdmitted, readClaims, watchOnce, type WatchTarget } from './claim-protocol.js';

const NOT_ACQUIRED: AcquireResult<KeyEntry> = Object.freeze({ acquired: false, retryAfter: -1 });

interface Attached {
  readonly session: EtcdSession;
  readonly keys: HeldKeys;
}

/** The owner and claim of a key this driver put (its value holds both, encoded). */
interface Owner {
  readonly token: string;
  readonly claim: Claim;
}

/**
 * The driver of `EtcdReadWriteLock` and `EtcdSemaphore`: etcd's recipe layout on the session's
 * shared leases. Every holder and waiter of a name is one key under `<prefix><name>/` (see
 * claim-codec.ts), ordered by create revision; a key is admitted once its claim fits with every
 * older key. The order lives in etcd, so the driver declares a native queue (`features.queue`):
 * a waiting caller keeps its key, watches the one key whose change may admit it, and reads
 * again when that key changes:
 *
 * - a reader watches the newest writer before it; a writer the newest key before it (Go's
 *   recipes `RWMutex`): a writer's release wakes the readers behind it together, a reader's
 *   release wakes at most the writer right behind it;
 * - a permit request watches the key just before it, which puts itself again once admitted
 *   (markAdmitted); the first waiting request (every key before it admitted) watches the
 *   directory's deletions instead: any holder's release may let it in.
 *
 * So a release wakes one waiter, or the readers it admits, whatever the number waiting. The
 * fencing token is the key's create revision. Release, renewal (one keep-alive per lease and one
 * ownership txn per 64 keys per tick) and loss are `HeldKeys`', comparing the key's value.
 */
export class EtcdClaimDriver implements LockDriver<KeyEntry> {
  readonly backend = 'etcd';
  readonly capabilities = etcdCapabilities;
  readonly features: DriverFeatures<KeyEntry>;
  readonly #client: EtcdClient | IOptions;
  readonly #options: EtcdLockOptions;
  readonly #defaultPrefix: string;
  readonly #owners = new WeakMap<KeyEntry, Owner>();
  #attached: Attached | undefined;

  constructor(client: EtcdClient | IOptions, options: EtcdLockOptions, claims: readonly ClaimKind[], defaultPrefix: string) {
    this.#client = client;
    this.#options = options;
    this.#defaultPrefix = defaultPrefix;
    this.features = Object.freeze({
      claims: Object.freeze([...claims]),
      queue: (request: AcquireRequest, wait: QueueWait) => this.#queue(request, wait),
      inspectHolders: (key: string) => this.inspectHolders(key),
    });
  }

  get session(): EtcdSession {
    return this.#state.session;
  }

  attach(host: DriverHost<KeyEntry>): void {
    const session = new EtcdSession(this.#client, this.#options, this.#defaultPrefix, host.clock, {
      held: () => host.held(),
      lost: (lock, reason, cause) => host.lost(lock, reason, cause),
      finished: () => undefined,
    });
    this.#attached = { session, keys: new HeldKeys(session) };
  }

  /** The directory of `name`: `<prefix><name>/`. */
  directory(name: string): Buffer {
    return mutexPrefix(this.#state.session.prefix, name);
  }

  /** One attempt (`tryReadLock()`, `tryAcquire()`): join, and leave again unless admitted at once. */
  acquire({ key: name, token, ttl, claim }: AcquireRequest): Promise<AcquireResult<KeyEntry>> {
    return this.#claim(name, token, ttl, claim, -Infinity, this.#state.session.closing);
  }

  release(lock: HeldLock<KeyEntry>): Promise<boolean> {
    const view = this.#view(lock);
    return view === undefined ? Promise.resolve(false) : this.#state.keys.release(view);
  }

  renew(lock: HeldLock<KeyEntry>, ttl: number): Promise<boolean> {
    const view = this.#view(lock);
    return view === undefined ? Promise.resolve(false) : this.#state.keys.renew(view, ttl);
  }

  async renewMany(locks: readonly HeldLock<KeyEntry>[]): Promise<Array<boolean | Error>> {
    const views = locks.map((lock) => this.#view(lock));
    const known = views.filter((v): v is HeldLock<KeyEntry> => v !== undefined);
    const results = await this.#state.keys.renewMany(known);
    let i = 0;
    return views.map((v) => (v === undefined ? false : results[i++]!));
  }

  abandon(lock: HeldLock<KeyEntry>): void {
    const view = this.#view(lock);
    if (view !== undefined) this.#state.keys.abandon(view);
  }

  /** The oldest admitted key as a lock (a read-write lock's or semaphore's `inspect` uses {@link inspectHolders}). */
  async inspect(name: string): Promise<LockInfo | null> {
    const { holders } = await this.inspectHolders(name);
    const first = holders[0];
    return first === undefined ? null : { key: name, holder: first.holder, ttlRemaining: first.ttlRemaining, fencingToken: first.fencingToken };
  }

  /** Every admitted key of `name` with its claim, and how many keys wait. */
  async inspectHolders(name: string): Promise<KeyHolders> {
    const { session } = this.#state;
    const entries = await readClaims(session.client, this.directory(name));
    const fits = admitted(entries);
    const held = entries.filter((_, i) => fits[i]);
    const ttls = new Map<string, Promise<number>>();
    for (const e of held) if (!ttls.has(e.kv.lease)) ttls.set(e.kv.lease, session.leaseTtlMs(e.kv.lease).catch(() => -1));
    const holders: ClaimHolder[] = await Promise.all(
      held.map(async (e) => ({ holder: e.token.slice(0, 8), claim: e.claim, ttlRemaining: await ttls.get(e.kv.lease)!, fencingToken: e.rev })),
    );
    return { key: name, holders, waiting: entries.length - held.length };
  }

  isTransient(error: unknown): boolean {
    return !isPermanentEtcdError(error);
  }

  async close(): Promise<void> {
    await this.#attached?.session.close();
  }

  get #state(): Attached {
    if (this.#attached === undefined) throw new Error('EtcdClaimDriver: used before an engine attached it');
    return this.#attached;
  }

  /** What `HeldKeys` works on: the lock with its key's value as the token, if the lock is one we gave out. */
  #view(lock: HeldLock<KeyEntry>): HeldLock<KeyEntry> | undefined {
    const owner = this.#owners.get(lock.data);
    if (owner?.token !== lock.token) return undefined;
    return { key: lock.key, token: lock.data.token, fencingToken: lock.fencingToken, ttl: lock.ttl, data: lock.data };
  }

  /** A waiting call: join, and wait in etcd's order until admitted, the deadline or the signal (the `queue` feature). */
  async #queue({ key: name, token, ttl, claim }: AcquireRequest, wait: QueueWait): Promise<AcquireResult<KeyEntry>> {
    const { session } = this.#state;
    const link = linkSignals(wait.signal, session.closing);
    try {
      return await session.trackWait(this.#claim(name, token, ttl, claim, wait.deadline, link.signal));
    } catch (error) {
      if (wait.signal?.aborted) throw wait.signal.reason;
      if (session.closed) throw new LockClosedError('etcd lock', 'lock', name);
      throw error;
    } finally {
      link.dispose();
    }
  }

  async #claim(name: string, token: string, ttl: number, claim: Claim, deadline: number, signal: AbortSignal): Promise<AcquireResult<KeyEntry>> {
    const { session } = this.#state;
    const dir = this.directory(name);
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted();
      const startedAt = session.clock.now();
      const lease = await session.pool.use(ttl);
      const entry = newEntry(name, claimKey(dir, lease.hex, token), claimValue(claim, token), lease);
      this.#owners.set(entry, { token, claim });
      try {
        const aliveUntil = session.leaseAliveUntil(entry.lease, startedAt, ttl);
        const before = await joinClaims(session.client, dir, entry, () => session.track(entry));
        this.#checkLimit(name, claim, before);
        if (fitsAfter(claim, before)) return this.#acquired(entry, await aliveUntil, startedAt, ttl);
        aliveUntil.catch(() => undefined);
        const result = deadline === -Infinity ? NOT_ACQUIRED : await this.#waitTurn(entry, claim, dir, ttl, deadline, signal);
        if (!result.acquired) await session.remove(entry);
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
          await session.remove(entry);
        }
        throw error;
      }
    }
  }

  /**
   * Reads the keys before ours until our claim fits with them, sleeping in between on the one
   * watch that concerns us (see the class comment). Acquired, or not (deadline).
   */
  async #waitTurn(entry: KeyEntry, claim: Claim, dir: Buffer, ttl: number, deadline: number, signal: AbortSignal): Promise<AcquireResult<KeyEntry>> {
    const { session } = this.#state;
    for (;;) {
      const checkedAt = session.clock.now();
      const aliveUntil = session.leaseAliveUntil(entry.lease, checkedAt, ttl);
      aliveUntil.catch(() => undefined);
      const check = await checkClaims(session.client, dir, entry);
      if (entry.lost !== undefined) throw entry.lost;
      if (!check.mine) {
        session.pool.check(entry.lease);
        throw new EtcdLeaseLostError(entry.lease.hex, 'no longer carries the waiting key: it was revoked or expired, or the key was deleted', {
          key: entry.name,
        });
      }
      this.#checkLimit(entry.name, claim, check.before);
      if (fitsAfter(claim, check.before)) {
        const result = this.#acquired(entry, await aliveUntil, checkedAt, ttl);
        // Tell the permit request right behind ours (it watches only our key) to look again.
        if (claim.kind === 'permits') void markAdmitted(session.client, entry).catch(() => undefined);
        return result;
      }
      const left = deadline - session.clock.now();
      if (left <= 0) return NOT_ACQUIRED;
      signal.throwIfAborted();
      const target = watchTarget(claim, dir, check.before);
      await new Promise<void>((resolve, reject) => {
        const timer = Number.isFinite(left) ? setTimeout(done, Math.min(left, MAX_TIMER_DELAY)) : undefined;
        const watch = watchOnce(session.client, target, check.revision + 1n, done);
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
      if (entry.lost !== undefined) throw entry.lost;
    }
  }

  /** A semaphore key whose holders or waiters use another limit: nothing is taken (the caller removes our key). */
  #checkLimit(name: string, claim: Claim, before: readonly ClaimKv[]): void {
    const current = otherLimit(claim, before);
    if (current !== undefined && claim.kind === 'permits') {
      throw new SemaphoreLimitMismatchError(name, claim.limit, current, { backend: this.backend });
    }
  }

  #acquired(entry: KeyEntry, aliveUntil: number, startedAt: number, ttl: number): AcquireResult<KeyEntry> {
    entry.state = 'held';
    entry.wake = undefined;
    return { acquired: true, fencingToken: entry.rev, data: entry, validFrom: Math.min(startedAt, aliveUntil - ttl) };
  }
}

/** The one watch of a waiter whose claim does not fit after `before` (oldest first, not empty). */
function watchTarget(claim: Claim, dir: Buffer, before: readonly ClaimKv[]): WatchTarget {
  const newest = before[before.length - 1]!;
  if (claim.kind === 'exclusive') return { key: newest.kv.key, puts: false };
  if (claim.kind === 'shared') {
    for (let i = before.length - 1; i >= 0; i--) if (before[i]!.claim.kind !== 'shared') return { key: before[i]!.kv.key, puts: false };
    return { key: newest.kv.key, puts: false }; // not reached: readers alone always fit
  }
  // Every key before ours admitted: we are the first waiting, and any release may let us in.
  if (admitted(before).every(Boolean)) return { directory: dir };
  return { key: newest.kv.key, puts: true };
}
