import type { HeldLock } from '@dlock/core';
import type { KeyEntry } from './entry.js';
import { LeasePool, type PooledLease } from './lease-pool.js';
import { createRevisionIs, deleteOp, getOp, putOp, rangeKvs, valueIs } from './ops.js';
import type { EtcdSession } from './session.js';

/** Renewal checks of this many keys go in one read-only txn (etcd's default limit is 128 ops). */
const KEYS_PER_CHECK = 64;

/**
 * Release, renewal and loss of held keys, the same for `EtcdLock` and `EtcdMutex`: ownership
 * is the token (every txn compares the key's value), renewal is a keep-alive of the key's
 * shared lease plus that check (batched per watchdog tick), and a lost lock's key is given back.
 */
export class HeldKeys {
  constructor(private readonly session: EtcdSession) {}

  /**
   * The release txn: `If(value(key) == token) Then(delete key)`; after a miss, a read of the
   * key. Ownership is the token (unique to this acquisition, and secret): the create revision is
   * the public fencing token, so it would let anyone who read it (inspect()) delete the holder's
   * key, and it adds nothing to the token (only this acquisition writes its token). Each compare
   * and an unused Else branch made every release measurably slower, so the txn has neither.
   * A miss is not always a loss: the client retries a call whose answer was lost (a member paused
   * or partitioned mid-call), and the retry finds the key its own first attempt deleted. So a
   * missing key counts as released while our lease lives (only a lease's end, or another client
   * deleting our key, removes it otherwise); it counts as lost when etcd says the lease is gone,
   * or when the key now holds another token.
   */
  async release(lock: HeldLock<KeyEntry>): Promise<boolean> {
    const entry = this.session.entryOf(lock);
    if (entry?.state !== 'held') return false;
    entry.state = 'releasing';
    let released: boolean;
    try {
      released = await this.#deleteOwnKey(entry, lock.token);
    } catch (error) {
      entry.state = 'held'; // still ours as far as we know: unlock() may be called again
      throw error;
    }
    this.session.finish(entry);
    return released;
  }

  /**
   * Renewing is a keep-alive of the lock's lease (shared with the lease's other locks) plus a
   * check that the key is still ours. A new TTL that needs a lease of another length moves the
   * key to that lease (same key, same create revision, so the fencing token is unchanged).
   */
  async renew(lock: HeldLock<KeyEntry>, ttl: number): Promise<boolean> {
    const entry = this.session.entryOf(lock);
    if (entry?.state !== 'held') return false;
    const startedAt = this.session.clock.now();
    if (LeasePool.seconds(ttl) !== entry.lease.seconds) return this.#moveToLease(entry, lock.token, ttl, startedAt);
    const [alive, [ours]] = await Promise.all([this.session.leaseAlive(entry.lease, startedAt), this.#keysAreOurs([lock])]);
    return alive && ours === true;
  }

  /** One keep-alive per lease and one ownership txn per 64 keys for a whole watchdog tick. */
  async renewMany(locks: readonly HeldLock<KeyEntry>[]): Promise<Array<boolean | Error>> {
    const startedAt = this.session.clock.now();
    // Locks whose TTL still matches their lease; the others move lease one by one (renew).
    const batch = new Map<HeldLock<KeyEntry>, number>();
    const leases = new Map<PooledLease, Promise<boolean | Error>>();
    for (const lock of locks) {
      const entry = this.session.entryOf(lock);
      if (entry?.state !== 'held' || LeasePool.seconds(lock.ttl) !== entry.lease.seconds) continue;
      batch.set(lock, batch.size);
      if (!leases.has(entry.lease)) leases.set(entry.lease, this.session.leaseAlive(entry.lease, startedAt).catch(asError));
    }
    const owned = this.#keysAreOurs([...batch.keys()]).catch(asError);
    const [ours, ...alive] = await Promise.all([owned, ...leases.values()]);
    const aliveOf = new Map([...leases.keys()].map((lease, i) => [lease, alive[i]!]));
    return Promise.all(
      locks.map(async (lock): Promise<boolean | Error> => {
        const entry = this.session.entryOf(lock);
        if (entry === undefined) return false;
        // A release under way decides this lock's fate: neither extend its validity (nothing was
        // confirmed) nor report it lost; the watchdog just tries again later.
        if (entry.state === 'releasing') return new Error('a release of this lock is under way');
        if (entry.state !== 'held') return false;
        const index = batch.get(lock);
        if (index === undefined) return this.renew(lock, lock.ttl).catch(asError);
        const leaseAlive = aliveOf.get(entry.lease);
        if (leaseAlive === undefined) return this.renew(lock, lock.ttl).catch(asError); // moved meanwhile
        if (leaseAlive instanceof Error) return leaseAlive;
        if (ours instanceof Error) return leaseAlive ? ours : false;
        return leaseAlive && ours[index] === true;
      }),
    );
  }

  /**
   * The engine stopped tracking a lost lock: its key is deleted if it may still exist (it
   * expired here, not in etcd); a key whose lease is gone went with it.
   */
  abandon(lock: HeldLock<KeyEntry>): void {
    const entry = this.session.entryOf(lock);
    if (entry?.state !== 'held') return;
    if (entry.lease.state === 'alive') void this.session.remove(entry);
    else this.session.finish(entry);
  }

  /**
   * For each held lock, whether its key still exists with its create revision and holds the
   * handle's token (one read-only txn per 64 keys). Pass only locks `entryOf` accepted.
   */
  async #keysAreOurs(locks: readonly HeldLock<KeyEntry>[]): Promise<boolean[]> {
    const results: boolean[] = [];
    for (let i = 0; i < locks.length; i += KEYS_PER_CHECK) {
      const chunk = locks.slice(i, i + KEYS_PER_CHECK);
      const response = await this.session.client.kv.txn({ success: chunk.map((l) => getOp(l.data.key)) });
      chunk.forEach((l, j) => {
        const kv = rangeKvs(response, j)[0];
        results.push(kv !== undefined && kv.create_revision === l.data.rev.toString() && kv.value.toString('utf8') === l.token);
      });
    }
    return results;
  }

  async #deleteOwnKey(entry: KeyEntry, token: string): Promise<boolean> {
    const { client } = this.session;
    const response = await client.kv.txn({ compare: [valueIs(entry.key, token)], success: [deleteOp(entry.key)] });
    if (response.succeeded) return true;
    // Whatever holds the key now is not ours (the compare failed): the lock was lost. If etcd
    // cannot be asked, the lease decides, as for a missing key.
    const taken = await client.kv.range({ key: entry.key, keys_only: true }).then(
      (r) => r.kvs.length > 0,
      () => false,
    );
    if (taken) return false;
    try {
      return await this.session.leaseAlive(entry.lease, this.session.clock.now());
    } catch {
      return true; // cannot ask: the key is gone either way, and nothing of ours is left to free
    }
  }

  /**
   * Re-puts the key with the lease for `ttl` (same value; a put keeps the create revision), if
   * it still holds `token` at our create revision. An `EtcdMutex` key keeps its name, which then
   * names the old lease: harmless, since Go's Mutex and ours only compare create revisions, and
   * this instance queues once per name.
   */
  async #moveToLease(entry: KeyEntry, token: string, ttl: number, startedAt: number): Promise<boolean> {
    const { pool, client } = this.session;
    const target = await pool.use(ttl);
    try {
      const [response] = await Promise.all([
        client.kv.txn({
          compare: [createRevisionIs(entry.key, entry.rev), valueIs(entry.key, token)],
          success: [putOp(entry.key, token, target.id)],
        }),
        this.session.leaseAlive(target, startedAt),
      ]);
      if (!response.succeeded || entry.state !== 'held') {
        pool.unuse(target);
        return false;
      }
    } catch (error) {
      pool.unuse(target);
      throw error;
    }
    const previous = entry.lease;
    entry.lease = target;
    pool.unuse(previous);
    return true;
  }
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
