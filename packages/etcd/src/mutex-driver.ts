import {
  abortableDelay,
  KeyQueue,
  LockAcquireTimeoutError,
  LockClosedError,
  Outage,
  type AcquireRequest,
  type AcquireResult,
  type DriverFeatures,
  type DriverHost,
  type HeldLock,
  type LockDriver,
  type LockInfo,
  type QueueWait,
} from '@dlock/core';
import type { IOptions } from 'etcd3';
import { etcdCapabilities } from './capabilities.js';
import type { EtcdClient } from './client.js';
import { DeleteWatch } from './delete-watch.js';
import { newEntry, type KeyEntry } from './entry.js';
import { EtcdLeaseLostError, isLeaseNotFound, isPermanentEtcdError, isTransientEtcdError } from './errors.js';
import { HeldKeys } from './held-keys.js';
import type { PooledLease } from './lease-pool.js';
import { mutexPrefix, mutexQueueKey } from './keys.js';
import { checkQueue, joinQueue, queueHead } from './mutex-protocol.js';
import { defaultEtcdLockOptions, type EtcdMutexOptions } from './options.js';
import { QueueSlots, type Slot } from './queue-slots.js';
import { EtcdSession } from './session.js';

const NOT_ACQUIRED: AcquireResult<KeyEntry> = Object.freeze({ acquired: false, retryAfter: -1 });

/** Sentinel: a wait ran into the caller's deadline. */
const TIMED_OUT = Symbol('timed out');

/** Longest pause between two tries of a queued waiter's request while etcd fails, in ms. */
const MAX_RETRY_DELAY_MS = 1_000;

/** How long, and until when, a queued waiter retries etcd's transient failures in place. */
interface Retry {
  readonly deadline: number;
  readonly signal: AbortSignal;
  readonly budgetMs: number;
}

interface Attached {
  readonly session: EtcdSession;
  readonly keys: HeldKeys;
}

/**
 * The driver of `EtcdMutex`: Go's `concurrency.Mutex` protocol on the session's shared leases,
 * with a native queue (`features.queue`): `lock()` waits in etcd's revision-ordered queue,
 * watching only the entry just ahead. This instance's callers of one name take local slots
 * ({@link QueueSlots}) that name their keys and order their puts.
 */
export class EtcdMutexDriver implements LockDriver<KeyEntry> {
  readonly backend = 'etcd';
  readonly capabilities = etcdCapabilities;
  readonly features: DriverFeatures<KeyEntry>;
  readonly #client: EtcdClient | IOptions;
  readonly #options: EtcdMutexOptions;
  readonly #slots: QueueSlots;
  /**
   * This instance's queue keys now in etcd (as latin1 strings), each with the waiters of ours
   * queued right behind it: those are woken when we delete it, with no etcd watch (watches are
   * created one at a time per client, a round trip each, and were the slowest part of a hand-off
   * between two callers of one instance). `null` until someone queues behind it (most never get
   * any: no Set per lock).
   */
  readonly #own = new Map<string, Set<() => void> | null>();
  /** Queued waiters sleeping until the entry ahead of theirs goes, by their own key (latin1). */
  readonly #sleepers = new KeyQueue<never>();
  #attached: Attached | undefined;

  /**
   * @param maxQueuedPerName validated: see `EtcdMutexOptions.maxQueuedPerName`. The client and
   *   the other options are checked and used once an engine attaches the driver.
   */
  constructor(client: EtcdClient | IOptions, options: EtcdMutexOptions, maxQueuedPerName: number) {
    this.#client = client;
    this.#options = options;
    this.#slots = new QueueSlots(maxQueuedPerName);
    this.features = Object.freeze({
      claims: ['exclusive'] as const,
      queue: (request: AcquireRequest, wait: QueueWait) => this.#queue(request, wait),
    });
  }

  /** The session (client, prefix, leases) once attached. */
  get session(): EtcdSession {
    return this.#state.session;
  }

  attach(host: DriverHost<KeyEntry>): void {
    const session = new EtcdSession(this.#client, this.#options, defaultEtcdLockOptions.mutexPrefix, host.clock, {
      held: () => host.held(),
      lost: (lock, reason, cause) => host.lost(lock, reason, cause),
      finished: (entry) => this.#finished(entry),
    });
    this.#attached = { session, keys: new HeldKeys(session) };
  }

  /** tryLock(): join the queue; if someone is ahead, leave it again (like Go's `TryLock`). */
  async acquire({ key: name, token, ttl }: AcquireRequest): Promise<AcquireResult<KeyEntry>> {
    const { session } = this.#state;
    const slot = this.#slots.tryTakeIdle(name);
    if (slot === null) return NOT_ACQUIRED;
    for (let attempt = 0; ; attempt++) {
      const startedAt = session.clock.now();
      let entry: KeyEntry;
      try {
        entry = await this.#prepare(name, token, ttl, slot);
      } catch (error) {
        slot.release();
        throw error;
      }
      try {
        const aliveUntil = session.leaseAliveUntil(entry.lease, startedAt, ttl);
        const head = await this.#enqueue(entry);
        slot.turnDone();
        if (!head) {
          await session.remove(entry);
          return NOT_ACQUIRED;
        }
        return this.#acquired(entry, await aliveUntil, startedAt, ttl);
      } catch (error) {
        if (isLeaseNotFound(error) && attempt === 0) {
          await this.#retireLease(entry, error);
          continue;
        }
        slot.turnDone();
        await session.remove(entry);
        throw error;
      }
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
    const head = await queueHead(session.client, mutexPrefix(session.prefix, name));
    if (head === undefined) return null;
    return {
      key: name,
      // Go and etcdctl store an empty value: their holders show as ''.
      holder: head.value.toString('utf8').slice(0, 8),
      ttlRemaining: await session.leaseTtlMs(head.lease),
      fencingToken: BigInt(head.create_revision),
    };
  }

  /** A waiting `lock()` retries everything but bad credentials, missing permissions and invalid requests. */
  isTransient(error: unknown): boolean {
    return !isPermanentEtcdError(error);
  }

  async close(): Promise<void> {
    await this.#attached?.session.close();
  }

  get #state(): Attached {
    if (this.#attached === undefined) throw new Error('EtcdMutexDriver: used before a lock engine attached it');
    return this.#attached;
  }

  /** lock(): queue locally, then in etcd, and wait for our turn (the `queue` feature). */
  async #queue({ key: name, token, ttl }: AcquireRequest, wait: QueueWait): Promise<AcquireResult<KeyEntry>> {
    const { session } = this.#state;
    const link = linkSignals(wait.signal, session.closing);
    try {
      return await session.trackWait(this.#wait(name, token, ttl, wait.deadline, link.signal));
    } catch (error) {
      if (wait.signal?.aborted) throw wait.signal.reason;
      if (session.closed) throw new LockClosedError('etcd lock', 'lock', name);
      throw error;
    } finally {
      link.dispose();
    }
  }

  async #wait(name: string, token: string, ttl: number, deadline: number, signal: AbortSignal): Promise<AcquireResult<KeyEntry>> {
    const { session } = this.#state;
    const clock = session.clock;
    const waitOptions = () => (Number.isFinite(deadline) ? { signal, waitTimeout: Math.max(0, deadline - clock.now()) } : { signal });
    signal.throwIfAborted();
    // Without waiting when a slot is free and no earlier caller's put is pending (the usual case).
    let slot = this.#slots.takeNow(name);
    if (slot === null) {
      try {
        slot = await this.#slots.take(name, waitOptions());
      } catch (error) {
        if (error instanceof LockAcquireTimeoutError) return NOT_ACQUIRED;
        throw error;
      }
    }
    if (!this.#slots.isTurn(name, slot)) {
      try {
        // This instance's earlier callers put first, so etcd queues them first.
        await this.#slots.waitTurn(name, slot, waitOptions());
      } catch (error) {
        slot.release();
        if (error instanceof LockAcquireTimeoutError) return NOT_ACQUIRED;
        throw error;
      }
    }
    // Once our key may be in the queue, transient failures are retried here (a retry keeps our
    // place) for at most this long, and never past the deadline; then the client's error is
    // thrown. Before that (the lease grant), a failure is thrown at once: the engine decides
    // whether to queue again, as it does for EtcdLock.
    const retry: Retry = { deadline, signal, budgetMs: Math.max(ttl, 5_000) };
    let entry: KeyEntry | undefined;
    try {
      for (let attempt = 0; ; attempt++) {
        const startedAt = clock.now();
        entry = await this.#prepare(name, token, ttl, slot);
        // Started with the put, not after it: a stale shared lease costs no extra round trip.
        const aliveUntil = session.leaseAliveUntil(entry.lease, startedAt, ttl);
        let head: boolean;
        try {
          const joining = entry;
          head = await this.#retrying(() => this.#enqueue(joining), retry, entry);
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
      if (entry !== undefined) await session.remove(entry);
      return NOT_ACQUIRED;
    } catch (error) {
      slot.turnDone();
      if (entry !== undefined) await session.remove(entry);
      else slot.release();
      throw error;
    }
  }

  /**
   * A lease-backed entry for `name` (its key names the lease and the local slot), holding the
   * slot. Synchronous when the shared lease is there (the usual case): no promise to wait for.
   */
  #prepare(name: string, token: string, ttl: number, slot: Slot): KeyEntry | Promise<KeyEntry> {
    const { session } = this.#state;
    const entryOn = (lease: PooledLease) =>
      newEntry(name, mutexQueueKey(mutexPrefix(session.prefix, name), lease.hex, slot.index), token, lease, slot.release);
    const lease = session.pool.useNow(ttl);
    return lease !== undefined ? entryOn(lease) : session.pool.use(ttl).then(entryOn);
  }

  /** Puts our key in the queue (see `joinQueue`); resolves to whether it is the oldest (we hold the lock). */
  #enqueue(entry: KeyEntry): Promise<boolean> {
    const { session } = this.#state;
    const own = entry.key.toString('latin1');
    return joinQueue(session.client, mutexPrefix(session.prefix, entry.name), entry, () => {
      session.track(entry);
      if (!this.#own.has(own)) this.#own.set(own, null);
    });
  }

  /**
   * Waits until no entry older than ours is left (Go's `waitDeletes`), watching only the newest
   * older one; then our key must still exist. Resolves to the acquired lock, or TIMED_OUT.
   * Sleeps on a ticket of core's `KeyQueue`, notified by the deletion of the entry ahead (our
   * own, or watched) and by the loss of our lease.
   */
  async #waitTurn(entry: KeyEntry, ttl: number, retry: Retry): Promise<AcquireResult<KeyEntry> | typeof TIMED_OUT> {
    const { session } = this.#state;
    const own = entry.key.toString('latin1');
    const ticket = this.#sleepers.enqueue(own);
    entry.wake = () => this.#sleepers.notify(own);
    const wake = () => entry.wake?.();
    try {
      for (;;) {
        ticket.woken = false;
        const checkedAt = session.clock.now();
        // In parallel with the check, as in #wait: when we are first, no keep-alive round trip follows.
        const aliveUntil = session.leaseAliveUntil(entry.lease, checkedAt, ttl);
        const check = await this.#retrying(() => checkQueue(session.client, mutexPrefix(session.prefix, entry.name), entry), retry, entry);
        if (entry.lost !== undefined) throw entry.lost;
        if (!check.mine) {
          session.pool.check(entry.lease);
          throw new EtcdLeaseLostError(entry.lease.hex, 'no longer carries the queue key: it was revoked or expired, or the key was deleted', {
            key: entry.name,
          });
        }
        if (check.ahead === undefined) return this.#acquired(entry, await aliveUntil, checkedAt, ttl);
        // Ahead of us one of our own keys: we are told when it goes. Anyone else's: watch it.
        const aheadKey = check.ahead.toString('latin1');
        let followers = this.#own.get(aheadKey);
        if (followers === null) this.#own.set(aheadKey, (followers = new Set()));
        followers?.add(wake);
        const watch = followers === undefined ? new DeleteWatch(session.client, check.ahead, check.revision + 1n, wake) : undefined;
        try {
          do {
            const left = retry.deadline - session.clock.now();
            if (left <= 0) return TIMED_OUT;
            await ticket.sleep(left, retry.signal);
            if (entry.lost !== undefined) throw entry.lost;
          } while (!ticket.woken);
        } finally {
          followers?.delete(wake);
          watch?.cancel();
        }
      }
    } finally {
      ticket.leave(true);
    }
  }

  /**
   * Retries `step` on transient errors, backing off with core's `Outage` (50 ms doubling up to
   * 1 s), until it succeeds, the signal aborts, the entry is lost, or the errors outlast the
   * deadline or `budgetMs`: then the last error is thrown, so that `lock()` reports why it did
   * not acquire instead of a bare timeout.
   */
  async #retrying<T>(step: () => Promise<T>, retry: Retry, entry: KeyEntry): Promise<T> {
    const clock = this.#state.session.clock;
    let outage: Outage | undefined; // made at the first failure: nothing allocated when etcd answers
    for (;;) {
      if (entry.lost !== undefined) throw entry.lost;
      retry.signal.throwIfAborted();
      try {
        return await step();
      } catch (error) {
        if (!isTransientEtcdError(error)) throw error;
        outage ??= new Outage(clock, MAX_RETRY_DELAY_MS, retry.budgetMs);
        const delay = outage.failed(error instanceof Error ? error : new Error(String(error)));
        const left = retry.deadline - clock.now();
        if (delay === undefined || left <= 0) throw error;
        await abortableDelay(Math.min(delay, left), retry.signal);
      }
    }
  }

  /** One of our keys is gone: wake the waiters of ours queued right behind it. */
  #finished(entry: KeyEntry): void {
    const own = entry.key.toString('latin1');
    const followers = this.#own.get(own);
    if (followers === undefined) return;
    this.#own.delete(own);
    for (const wake of followers ?? []) wake();
  }

  #acquired(entry: KeyEntry, aliveUntil: number, startedAt: number, ttl: number): AcquireResult<KeyEntry> {
    entry.state = 'held';
    entry.wake = undefined;
    return { acquired: true, fencingToken: entry.rev, data: entry, validFrom: Math.min(startedAt, aliveUntil - ttl) };
  }

  /** The pooled lease turned out to be gone before our put: drop it, keep the local slot. */
  async #retireLease(entry: KeyEntry, cause: unknown): Promise<void> {
    this.#state.session.pool.markLost(entry.lease, cause);
    entry.onDone = undefined;
    await this.#state.session.remove(entry);
  }
}

const NOTHING_TO_DETACH = () => undefined;

/**
 * A signal that aborts when either does (with that one's reason); `dispose` detaches it. Without
 * `a` it is `b` itself: no controller or listener for the usual `lock()` without a signal.
 */
export function linkSignals(a: AbortSignal | undefined, b: AbortSignal): { signal: AbortSignal; dispose(): void } {
  if (a === undefined) return { signal: b, dispose: NOTHING_TO_DETACH };
  const controller = new AbortController();
  const listeners = [a, b].map((source) => {
    const onAbort = () => controller.abort(source.reason);
    if (source.aborted) controller.abort(source.reason);
    else source.addEventListener('abort', onAbort, { once: true });
    return () => source.removeEventListener('abort', onAbort);
  });
  return { signal: controller.signal, dispose: () => listeners.forEach((remove) => remove()) };
}
