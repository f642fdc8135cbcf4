import { abortableDelay, Outage, type HeldLock } from '@dlock/core';
import type { KeyEntry } from '../entry.js';
import { LeasePool } from '../lease-pool.js';
import { createRevisionIs, getOp, putOp, rangeKvs } from '../ops.js';
import type { EtcdSession } from '../session.js';
import { deleteCandidate } from './protocol.js';

/** Renewal checks of this many keys go in one read-only txn. */
const KEYS_PER_CHECK = 64;

/** A background delete of a candidate key gives up after this long, in ms. */
const CLEANUP_MS = 10_000;

/**
 * Resign, renewal, loss and removal of the candidate keys of one `EtcdElection`. Unlike a lock
 * key, a candidate key holds the candidate's value, so ownership is its create revision (as in
 * Go's `concurrency.Election`): only this instance writes keys named after its lease.
 */
export class CandidateKeys {
  /** The value each key holds now (a lease move puts it again). */
  readonly #values = new WeakMap<KeyEntry, string>();

  constructor(private readonly session: EtcdSession) {}

  setValue(entry: KeyEntry, value: string): void {
    this.#values.set(entry, value);
  }

  /** Resign: deletes the key if it is still ours. A missing key counts as resigned while our lease lives. */
  async release(lock: HeldLock<KeyEntry>): Promise<boolean> {
    const entry = this.session.entryOf(lock);
    if (entry?.state !== 'held') return false;
    entry.state = 'releasing';
    let result: { deleted: boolean; exists: boolean };
    try {
      result = await deleteCandidate(this.session.client, entry);
    } catch (error) {
      entry.state = 'held';
      throw error;
    }
    let released = result.deleted;
    if (!released && !result.exists) released = await this.session.leaseAlive(entry.lease, this.session.clock.now()).catch(() => true);
    this.session.finish(entry);
    return released;
  }

  /** A keep-alive of the key's lease plus a check that the key still has our create revision. */
  async renew(lock: HeldLock<KeyEntry>, ttl: number): Promise<boolean> {
    const entry = this.session.entryOf(lock);
    if (entry?.state !== 'held') return false;
    const startedAt = this.session.clock.now();
    if (LeasePool.seconds(ttl) !== entry.lease.seconds) return this.#moveToLease(entry, ttl, startedAt);
    const [alive, [ours]] = await Promise.all([this.session.leaseAlive(entry.lease, startedAt), this.#ours([entry])]);
    return alive && ours === true;
  }

  /** One keep-alive per lease and one ownership txn per 64 keys for a watchdog tick. */
  async renewMany(locks: readonly HeldLock<KeyEntry>[]): Promise<Array<boolean | Error>> {
    const startedAt = this.session.clock.now();
    const entries = locks.map((lock) => this.session.entryOf(lock));
    // Leaderships whose TTL still matches their lease; the others move lease one by one (renew).
    const batch = entries.filter((e, i): e is KeyEntry => e?.state === 'held' && LeasePool.seconds(locks[i]!.ttl) === e.lease.seconds);
    const leases = new Map<KeyEntry['lease'], Promise<boolean | Error>>();
    for (const e of batch) if (!leases.has(e.lease)) leases.set(e.lease, this.session.leaseAlive(e.lease, startedAt).catch(asError));
    const owned = await this.#ours(batch).catch(asError);
    const ours = new Map(batch.map((e, i) => [e, owned instanceof Error ? owned : owned[i]!]));
    return Promise.all(
      locks.map(async (lock, i): Promise<boolean | Error> => {
        const entry = entries[i];
        if (entry === undefined) return false;
        if (entry.state === 'releasing') return new Error('a resign of this leadership is under way');
        if (entry.state !== 'held') return false;
        const own = ours.get(entry);
        const alive = leases.get(entry.lease);
        if (own === undefined || alive === undefined || LeasePool.seconds(lock.ttl) !== entry.lease.seconds) return this.renew(lock, lock.ttl).catch(asError);
        const leaseAlive = await alive;
        if (leaseAlive instanceof Error) return leaseAlive;
        if (own instanceof Error) return leaseAlive ? own : false;
        return leaseAlive && own;
      }),
    );
  }

  /** A lost leadership: its key is deleted if it may still exist. */
  abandon(lock: HeldLock<KeyEntry>): void {
    const entry = this.session.entryOf(lock);
    if (entry?.state !== 'held') return;
    if (entry.lease.state === 'alive') void this.remove(entry);
    else this.session.finish(entry);
  }

  /**
   * Gives up a candidate (waiting, refused or lost): deletes its key if still ours, then frees
   * it. Waits for the first attempt only; failures are retried in the background for a while
   * (the key would otherwise stand in the queue for as long as our lease lives).
   */
  async remove(entry: KeyEntry): Promise<void> {
    if (entry.finished) return;
    entry.state = 'done';
    const { session } = this;
    try {
      await deleteCandidate(session.client, entry);
      session.finish(entry);
      return;
    } catch {
      // Retried below, in the background.
    }
    void (async () => {
      const outage = new Outage(session.clock, 2_000, CLEANUP_MS);
      try {
        for (;;) {
          const delay = outage.failed(new Error('delete failed'));
          if (delay === undefined || session.closed || entry.lease.state !== 'alive') return;
          await abortableDelay(delay, session.closing).catch(() => undefined);
          try {
            await deleteCandidate(session.client, entry);
            return;
          } catch {
            // Next attempt.
          }
        }
      } finally {
        session.finish(entry);
      }
    })();
  }

  /** For each entry, whether its key still exists with its create revision. */
  async #ours(entries: readonly KeyEntry[]): Promise<boolean[]> {
    const results: boolean[] = [];
    for (let i = 0; i < entries.length; i += KEYS_PER_CHECK) {
      const chunk = entries.slice(i, i + KEYS_PER_CHECK);
      const response = await this.session.client.kv.txn({ success: chunk.map((e) => getOp(e.key, true)) });
      chunk.forEach((e, j) => results.push(rangeKvs(response, j)[0]?.create_revision === e.rev.toString()));
    }
    return results;
  }

  /** Puts the key again with the lease for `ttl` (same value and create revision) if still ours. */
  async #moveToLease(entry: KeyEntry, ttl: number, startedAt: number): Promise<boolean> {
    const { pool, client } = this.session;
    const target = await pool.use(ttl);
    try {
      const [response] = await Promise.all([
        client.kv.txn({ compare: [createRevisionIs(entry.key, entry.rev)], success: [putOp(entry.key, this.#values.get(entry) ?? '', target.id)] }),
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
