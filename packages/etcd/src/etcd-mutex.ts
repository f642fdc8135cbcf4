import { LockAcquireTimeoutError, validateCount, LockClosedError, timerDelay, type AcquireAttempt, type LockInfo } from '@dlock/core';
import type { IKeyValue, IOptions } from 'etcd3';
import type { EtcdClient } from './client.js';
import { DeleteWatch } from './delete-watch.js';
import { newEntry, type KeyEntry } from './entry.js';
import { EtcdLeaseLostError, isLeaseNotFound } from './errors.js';
import { EtcdLockBase, TIMED_OUT } from './etcd-base.js';
import { isQueueEntry, mutexPrefix, mutexQueueKey } from './keys.js';
import { createRevisionIs, getOp, headerRevision, putOp, queueOp, rangeKvs } from './ops.js';
import { defaultEtcdLockOptions, type EtcdMutexOptions } from './options.js';
import { QueueSlots, type Slot } from './queue-slots.js';

const NOT_ACQUIRED: AcquireAttempt = Object.freeze({ acquired: false, retryAfter: -1 });


/**
 * A fair, herd-free etcd lock with the protocol and key layout of etcd's Go
 * `concurrency.Mutex`, so Go services and `etcdctl lock` contend with it correctly.
 *
 * Each contender puts `<prefix><key>/<lease id hex>` (one txn that also reads the queue head)
 * and holds the lock when its key has the lowest create revision under `<prefix><key>/`.
 * Otherwise it watches only the entry just ahead of it; when that one is deleted it reads the
 * queue again (the entry ahead may have given up while an older one still holds), and it
 * confirms its own key still exists. A release therefore wakes exactly one waiter, whatever the
 * number waiting. The fencing token is the create revision of our key, so it increases with
 * every holder, including Go and `etcdctl` holders.
 *
 * Keys are carried by one kept-alive lease per (instance, TTL in seconds), as Go's `Session`
 * does, and named after it: `<lease hex>` for the instance's first caller of a name, `<lease
 * hex>-<n>` for further callers queued at the same time, up to `maxQueuedPerName`; callers beyond
 * that wait locally (first come, first served) for one of those slots. Several entries per
 * instance keep the next caller's put off the hand-off path: when the holder deletes its key,
 * the next entry is already in etcd and only has to confirm it is first.
 *
 * A queued waiter whose lease is revoked or expires, or whose key is deleted, rejects at once
 * with {@link EtcdLeaseLostError}; a holder's `handle.signal` aborts with `LockLostError`.
 *
 * @example
 * ```ts
 * import { EtcdMutex } from '@dlock/etcd';
 *
 * // prefix '' makes `lock('deploy')` contend with `etcdctl lock deploy`.
 * const mutex = new EtcdMutex({ hosts: 'http://127.0.0.1:2379' }, { prefix: '' });
 * await using handle = await mutex.lock('deploy', { ttl: 15_000, waitTimeout: 60_000 });
 * await deploy({ fence: handle.fencingToken });
 * ```
 */
export class EtcdMutex extends EtcdLockBase {
  /** See {@link EtcdMutexOptions.maxQueuedPerName}. */
  readonly maxQueuedPerName: number;
  readonly #local: QueueSlots;
  /**
   * This instance's queue keys now in etcd (as latin1 strings), each with the waiters of ours
   * queued right behind it: those are woken when we delete it, with no etcd watch (watches are
   * created one at a time per client, a round trip each, and were the slowest part of a hand-off
   * between two callers of one instance).
   */
  readonly #own = new Map<string, Set<() => void>>();

  /**
   * @param client an etcd3 `Etcd3` client (not closed by `close()`), or etcd3 `IOptions` to
   *   create one (closed by `close()`).
   * @param options prefix, timeouts, default TTL, queue depth; see {@link EtcdMutexOptions}.
   */
  constructor(client: EtcdClient | IOptions, options: EtcdMutexOptions = {}) {
    // Validated before super(), which may create a client: bad input must leave nothing open.
    const depth = queueDepth(options);
    super(client, options, defaultEtcdLockOptions.mutexPrefix, { names: ['maxQueuedPerName'], what: 'new EtcdMutex()' });
    this.maxQueuedPerName = depth;
    this.#local = new QueueSlots(depth);
  }

  /** The queue directory of `key` (what `etcdctl lock <name>` takes as `<name>` is this without the `/`). */
  queuePrefixFor(key: string): string {
    return `${this.prefix}${key}/`;
  }

  /** tryLock(): join the queue; if someone is ahead, leave it again (like Go's `TryLock`). */
  protected async acquireOnce(name: string, token: string, ttl: number): Promise<AcquireAttempt> {
    const slot = this.#local.tryTakeIdle(name);
    if (slot === null) return NOT_ACQUIRED;
    const unlock = slot.release;
    for (let attempt = 0; ; attempt++) {
      const startedAt = this.clock.now();
      let entry: KeyEntry;
      try {
        entry = await this.#prepare(name, token, ttl, slot);
      } catch (error) {
        unlock();
        throw error;
      }
      try {
        const aliveUntil = this.leaseAliveUntil(entry.lease, startedAt, ttl);
        const head = await this.#enqueue(entry);
        slot.turnDone();
        if (!head) {
          await this.removeEntry(entry);
          return NOT_ACQUIRED;
        }
        return this.#acquired(entry, await aliveUntil, startedAt, ttl);
      } catch (error) {
        if (isLeaseNotFound(error) && attempt === 0) {
          await this.#retireLease(entry, error);
          continue;
        }
        slot.turnDone();
        await this.removeEntry(entry);
        throw error;
      }
    }
  }

  /** lock(): queue locally, then in etcd, and wait for our turn. */
  protected override async acquireQueued(
    name: string,
    token: string,
    ttl: number,
    wait: { deadline: number; signal: AbortSignal | undefined },
  ): Promise<AcquireAttempt> {
    const link = linkSignals(wait.signal, this.closingSignal);
    try {
      return await this.trackWait(this.#queue(name, token, ttl, wait.deadline, link.signal));
    } catch (error) {
      if (wait.signal?.aborted) throw wait.signal.reason;
      if (this.closingSignal.aborted) throw new LockClosedError(`${this.backend} lock`, 'lock', name);
      throw error;
    } finally {
      link.dispose();
    }
  }

  protected async inspectOnce(name: string): Promise<LockInfo | null> {
    const prefix = mutexPrefix(this.prefix, name);
    const response = await this.client.kv.range(queueOp(prefix, { limit: 1 }).request_range!);
    const head = await this.#firstEntry(prefix, response.kvs[0], queueOp(prefix));
    if (head === undefined) return null;
    return {
      key: name,
      // Go and etcdctl store an empty value: their holders show as ''.
      holder: head.value.toString('utf8').slice(0, 8),
      ttlRemaining: await this.leaseTtlMs(head.lease),
      fencingToken: BigInt(head.create_revision),
    };
  }

  // ---- protocol -----------------------------------------------------------------------------

  async #queue(name: string, token: string, ttl: number, deadline: number, signal: AbortSignal): Promise<AcquireAttempt> {
    const waitOptions = () => (Number.isFinite(deadline) ? { signal, waitTimeout: Math.max(0, deadline - this.clock.now()) } : { signal });
    let slot: Slot;
    try {
      slot = await this.#local.take(name, waitOptions());
    } catch (error) {
      if (error instanceof LockAcquireTimeoutError) return NOT_ACQUIRED;
      throw error;
    }
    const unlock = slot.release;
    try {
      // This instance's earlier callers put first, so etcd queues them first.
      await this.#local.waitTurn(name, slot, waitOptions());
    } catch (error) {
      unlock();
      if (error instanceof LockAcquireTimeoutError) return NOT_ACQUIRED;
      throw error;
    }
    // Once our key may be in the queue, transient failures are retried here (a retry keeps our
    // place) for at most this long, and never past the deadline; then the client's error is
    // thrown. Before that (the lease grant), a failure is thrown at once: lock() decides whether
    // to try again, as it does for EtcdLock.
    const retry = { deadline, signal, budgetMs: Math.max(ttl, 5_000) };
    let entry: KeyEntry | undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        const startedAt = this.clock.now();
        const lease = await this.pool.use(ttl);
        entry = newEntry(name, mutexQueueKey(mutexPrefix(this.prefix, name), lease.hex, slot.index), token, lease, unlock);
        // Started with the put, not after it: a stale shared lease costs no extra round trip.
        const aliveUntil = this.leaseAliveUntil(lease, startedAt, ttl);
        let head: boolean;
        try {
          head = await this.retrying(() => this.#enqueue(entry!), { ...retry, entry });
          slot.turnDone();
        } catch (error) {
          if (!(isLeaseNotFound(error) && attempt === 0)) throw error;
          await this.#retireLease(entry, error);
          entry = undefined;
          continue;
        }
        if (head) return this.#acquired(entry, await aliveUntil, startedAt, ttl);
        const turn = await this.#waitTurn(entry, ttl, retry);
        if (turn === TIMED_OUT) break;
        return turn;
      }
      if (entry !== undefined) await this.removeEntry(entry);
      return NOT_ACQUIRED;
    } catch (error) {
      slot.turnDone();
      if (entry !== undefined) await this.removeEntry(entry);
      else unlock();
      throw error;
    }
  }

  /** A lease-backed entry for `name` (its key names the lease and the local slot), holding the slot. */
  async #prepare(name: string, token: string, ttl: number, slot: Slot): Promise<KeyEntry> {
    const lease = await this.pool.use(ttl);
    return newEntry(name, mutexQueueKey(mutexPrefix(this.prefix, name), lease.hex, slot.index), token, lease, slot.release);
  }

  /**
   * Go's `tryAcquire`: `If(createRevision(myKey) == 0) Then(put myKey, get oldest) Else(put
   * myKey, get myKey, get oldest)`. Idempotent, so a retry after a lost answer finds the key its
   * first attempt put. Resolves to whether our key is the oldest (we hold the lock).
   *
   * Go's Else only reads. Ours also puts our token, over a key an earlier lock of ours left
   * behind (its delete failed; only this instance writes keys named after its lease): a put
   * keeps the create revision, and the key's value is what release and renew check ownership
   * by. Go ignores values and waits only for deletions, so this changes nothing for it.
   */
  async #enqueue(entry: KeyEntry): Promise<boolean> {
    const prefix = mutexPrefix(this.prefix, entry.name);
    const response = await this.client.kv.txn({
      compare: [createRevisionIs(entry.key, 0n)],
      success: [putOp(entry.key, entry.token, entry.lease.id), queueOp(prefix, { limit: 1 })],
      failure: [putOp(entry.key, entry.token, entry.lease.id), getOp(entry.key, true), queueOp(prefix, { limit: 1 })],
    });
    entry.rev = response.succeeded ? headerRevision(response) : BigInt(rangeKvs(response, 1)[0]!.create_revision);
    this.track(entry);
    const own = entry.key.toString('latin1');
    if (!this.#own.has(own)) this.#own.set(own, new Set());
    const oldest = rangeKvs(response, response.succeeded ? 1 : 2)[0];
    const head = await this.#firstEntry(prefix, oldest, queueOp(prefix, { keysOnly: true }));
    if (head !== undefined) this.#noteForeign(entry.name, head.key);
    return head === undefined || BigInt(head.create_revision) === entry.rev;
  }

  /**
   * Waits until no entry older than ours is left (Go's `waitDeletes`), watching only the newest
   * older one; then our key must still exist. Resolves to the acquired lock, or TIMED_OUT.
   */
  async #waitTurn(
    entry: KeyEntry,
    ttl: number,
    retry: { deadline: number; signal: AbortSignal; budgetMs: number },
  ): Promise<AcquireAttempt | typeof TIMED_OUT> {
    let woken = false;
    let wakeSleeper: (() => void) | undefined;
    entry.wake = () => {
      woken = true;
      wakeSleeper?.();
    };
    for (;;) {
      woken = false;
      const checkedAt = this.clock.now();
      // In parallel with the check, as in #queue: when we are first, no keep-alive round trip follows.
      const aliveUntil = this.leaseAliveUntil(entry.lease, checkedAt, ttl);
      const check = await this.retrying(() => this.#check(entry), { ...retry, entry });
      if (entry.lost !== undefined) throw entry.lost;
      if (!check.mine) {
        this.pool.check(entry.lease);
        throw new EtcdLeaseLostError(entry.lease.hex, 'no longer carries the queue key: it was revoked or expired, or the key was deleted', {
          key: entry.name,
        });
      }
      if (check.ahead === undefined) {
        return this.#acquired(entry, await aliveUntil, checkedAt, ttl);
      }
      const wake = () => entry.wake?.();
      // Ahead of us one of our own keys: we are told when it goes. Anyone else's: watch it.
      this.#noteForeign(entry.name, check.ahead);
      const followers = this.#own.get(check.ahead.toString('latin1'));
      followers?.add(wake);
      const watch = followers === undefined ? new DeleteWatch(this.client, check.ahead, check.revision + 1n, wake) : undefined;
      try {
        while (!woken) {
          const left = retry.deadline - this.clock.now();
          if (left <= 0) return TIMED_OUT;
          await new Promise<void>((resolve, reject) => {
            const done = () => {
              clearTimeout(timer);
              retry.signal.removeEventListener('abort', onAbort);
              wakeSleeper = undefined;
            };
            const onAbort = () => {
              done();
              reject(retry.signal.reason);
            };
            const timer = setTimeout(
              () => {
                done();
                resolve();
              },
              timerDelay(left),
            );
            wakeSleeper = () => {
              done();
              resolve();
            };
            if (retry.signal.aborted) onAbort();
            else retry.signal.addEventListener('abort', onAbort, { once: true });
          });
          if (entry.lost !== undefined) throw entry.lost;
        }
      } finally {
        followers?.delete(wake);
        watch?.cancel();
      }
    }
  }

  /**
   * One read-only txn: does our key still exist, and which entry is just ahead of us (newest
   * create revision below ours)?
   */
  async #check(entry: KeyEntry): Promise<{ mine: boolean; ahead: Buffer | undefined; revision: bigint }> {
    const prefix = mutexPrefix(this.prefix, entry.name);
    const ahead = { maxCreateRevision: entry.rev - 1n, keysOnly: true };
    const response = await this.client.kv.txn({
      success: [getOp(entry.key, true), queueOp(prefix, { ...ahead, limit: 1 })],
    });
    const mine = rangeKvs(response, 0)[0]?.create_revision === entry.rev.toString();
    const kv = await this.#firstEntry(prefix, rangeKvs(response, 1)[0], queueOp(prefix, ahead));
    return { mine, ahead: kv?.key, revision: headerRevision(response) };
  }

  /**
   * `first` if it is an entry of this queue; if it belongs to a nested name (`<key>/sub/...`),
   * the first entry of the full listing `all` instead (rare: only names that extend each other).
   */
  async #firstEntry(prefix: Buffer, first: IKeyValue | undefined, all: ReturnType<typeof queueOp>): Promise<IKeyValue | undefined> {
    if (first === undefined || isQueueEntry(prefix, first.key)) return first;
    const response = await this.client.kv.range(all.request_range!);
    return response.kvs.find((kv) => isQueueEntry(prefix, kv.key));
  }

  /**
   * Another instance's key in the queue of `name`: contention across processes, where more of our
   * callers queued in etcd at once keep the next one's put off the hand-off path. Until then one
   * key per name is the faster layout (a local hand-off is one put).
   */
  #noteForeign(name: string, key: Buffer): void {
    if (!this.#own.has(key.toString('latin1'))) this.#local.widen(name);
  }

  /** One of our keys is gone: wake the waiters of ours queued right behind it. */
  protected override entryFinished(entry: KeyEntry): void {
    const own = entry.key.toString('latin1');
    const followers = this.#own.get(own);
    if (followers === undefined) return;
    this.#own.delete(own);
    for (const wake of followers) wake();
  }

  #acquired(entry: KeyEntry, aliveUntil: number, startedAt: number, ttl: number): AcquireAttempt {
    entry.state = 'held';
    entry.wake = undefined;
    return { acquired: true, fencingToken: entry.rev, data: entry, validFrom: Math.min(startedAt, aliveUntil - ttl) };
  }

  /** The pooled lease turned out to be gone before our put: drop it, keep the local slot. */
  async #retireLease(entry: KeyEntry, cause: unknown): Promise<void> {
    this.pool.markLost(entry.lease, cause);
    entry.onDone = undefined;
    await this.removeEntry(entry);
  }
}

function queueDepth(options: EtcdMutexOptions): number {
  const depth = (options as EtcdMutexOptions | null | undefined)?.maxQueuedPerName ?? defaultEtcdLockOptions.maxQueuedPerName;
  return validateCount(depth, 'maxQueuedPerName', 1);
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
