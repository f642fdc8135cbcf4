import type { Clock } from '../clock.js';
import type { LockCapabilities, LockInfo } from '../types.js';

/**
 * What an acquisition asks for. A mutex asks for `exclusive`; a read-write lock's readers ask
 * for `shared` and its writers for `exclusive`; a semaphore asks for `permits` out of `limit`.
 * A driver lists the claims it serves in {@link DriverFeatures.claims}.
 */
export type Claim =
  | { readonly kind: 'exclusive' }
  | { readonly kind: 'shared' }
  | { readonly kind: 'permits'; readonly permits: number; readonly limit: number };

/** The claim of every mutex acquisition (and of a read-write lock's writers). */
export const EXCLUSIVE: Claim = Object.freeze({ kind: 'exclusive' });

/** The claim of a read-write lock's readers. */
export const SHARED: Claim = Object.freeze({ kind: 'shared' });

/**
 * Cooperative yielding within one watchdog tick. Call it between units of work (every lock, or
 * every few dozen): once the running slice has used its time budget it returns a promise that
 * resolves on a later turn of the event loop (`setImmediate`, after pending I/O), and otherwise
 * `undefined` (a hot loop skips the `await` then; `await pace()` works either way). One `Pace`
 * serves a whole tick, so the budget is shared by the watchdog, the engine and the driver.
 *
 * @example
 * ```ts
 * for (let i = 0; i < locks.length; i++) {
 *   encode(locks[i]);
 *   const turn = pace();
 *   if (turn !== undefined) await turn;
 * }
 * ```
 */
export type Pace = () => Promise<void> | undefined;

/** Options of {@link LockDriver.renewMany}. */
export interface RenewManyOptions {
  /**
   * The tick's {@link Pace}: await it between units of work. Absent outside a watchdog tick
   * (nothing to yield to then).
   */
  readonly pace?: Pace | undefined;
}

/** The kinds of {@link Claim}. */
export type ClaimKind = Claim['kind'];

/** One acquisition a driver is asked to make. */
export interface AcquireRequest {
  readonly key: string;
  /** The new holder's identity: 128 random bits, hex. */
  readonly token: string;
  /** Lease length in ms (validated: an integer from 1 to `MAX_TTL_MS`). */
  readonly ttl: number;
  readonly claim: Claim;
  /**
   * Set on the attempts of a caller that waits (`lock()` and the like), unset on a single
   * attempt (`tryLock()`). A driver with a {@link DriverFeatures.waitList} keeps a waiting
   * caller's place in its queue when the attempt is not granted; a single attempt leaves no trace.
   * Other drivers ignore it.
   */
  readonly waiting?: boolean;
}

/** What one acquire attempt of a driver returns. */
export type AcquireResult<D> =
  /**
   * `data`: what the driver keeps for this lock (kept on the handle; given back to release and
   * renew). `validFrom`: the monotonic time the lease counts from, when it is not the moment the
   * attempt started (a queued etcd waiter's lease was kept alive while it waited).
   */
  | { readonly acquired: true; readonly fencingToken: bigint; readonly data: D; readonly validFrom?: number }
  /** `retryAfter`: ms until the current holder's lease ends, or -1 when unknown. */
  | { readonly acquired: false; readonly retryAfter: number };

/**
 * What a `transfer` returns: as an acquire (not acquired: `lock` was no longer held), or
 * `released` when the driver gave the lock back instead of handing it over (see
 * {@link DriverFeatures.transfer}).
 */
export type TransferResult<D> = AcquireResult<D> | { readonly acquired: false; readonly released: true };

/** What a driver sees of a lock it handed out, when it releases, renews or forgets it. */
export interface HeldLock<D = unknown> {
  readonly key: string;
  readonly token: string;
  readonly fencingToken: bigint;
  /** The TTL of the last acquire or renew, in ms. */
  readonly ttl: number;
  /** What the driver's acquire returned as `data`. */
  readonly data: D;
}

/** What the engine gives its driver: the clock, and the way back for events the driver learns of. */
export interface DriverHost<D> {
  readonly clock: Clock;
  /**
   * The engine's `maxRetryDelay`: the longest a waiter sleeps without news. A driver whose
   * release feed is down for a while (a subscriber reconnecting) caps its `retryAfter` by it.
   */
  readonly maxRetryDelay: number;
  /**
   * The driver learned that `key` was released: the next local waiter of `key` tries again.
   * With a wait list, pass the token of the caller now first in it (`next`) when the server
   * told, or, for shared and permits claims, the tokens of every caller the release admits now
   * (a list; empty when it admits nobody): then only those waiters are woken, where they are
   * this engine's, and nobody else here spends an attempt that its place in the queue would refuse.
   */
  released(key: string, next?: string | readonly string[]): void;
  /**
   * The driver learned that a held lock is gone (key deleted, lease revoked): its signal aborts
   * with `LockLostError`. `lock` must be one the engine gave the driver (from `held()`, or as
   * passed to `release`/`renew`): anything else is ignored.
   */
  lost(lock: HeldLock<D>, reason: string, cause?: unknown): void;
  /** The locks the engine holds through this driver now. */
  held(): readonly HeldLock<D>[];
}

/**
 * Release notifications: the engine watches a key while a local waiter sleeps on it, and the
 * driver calls {@link DriverHost.released} when it hears of a release (Redis pub/sub, a store's
 * listener). A driver that hears of every release without subscribing (memory) needs no feed
 * and just calls `released`; without either, waiters retry when the holder's lease would end,
 * at most every `maxRetryDelay`.
 */
export interface ReleaseFeed {
  /** Start observing releases of `key`; resolves once observing. */
  watch(key: string): Promise<void> | void;
  /** Stop observing `key` (its last waiter left a while ago). Best effort; must not throw. */
  unwatch(key: string): void;
}

/**
 * A FIFO of waiting callers kept by the server next to a key's holders (a read-write lock's or
 * a semaphore's queue): it decides who may be admitted, so that a waiting writer holds back
 * later readers and a large permit request is not overtaken by later small ones, across every
 * process. An attempt with `request.waiting` that is not granted keeps (or takes) the caller's
 * place, identified by `request.token`; an attempt is granted only when the claim fits together
 * with the holders and with every caller queued before it (a single attempt counts as queued
 * last). Granting takes the caller out of the queue.
 *
 * The engine attempts again for a waiting caller within `max(retryAfter, 0) + max(maxRetryDelay, 100)`
 * ms of a failed attempt's answer, unless its process stalls: a server keeps a place at least a
 * few seconds beyond that, and drops it later (a caller that died leaves no place behind). A
 * removed place that changes who may be admitted (a waiting writer gave up) is a release: tell
 * waiters, as for any release.
 *
 * Why the order lives on the server and not in the engine: the callers to order are in many
 * processes, and only the server sees them all (a local queue sees its own). The engine's
 * `KeyQueue` only decides whom to wake on a release (every reader queued together, as many
 * permit requests as could fit, one writer), so that a release costs about one attempt per
 * caller it may admit; the server decides who is admitted.
 */
export interface WaitList {
  /** The waiting caller `token` gave up (abort, timeout, close): drop its place. Best effort; must not throw. */
  leave(key: string, token: string): Promise<void> | void;
}

/** One holder of a key, as {@link DriverFeatures.inspectHolders} reports it. */
export interface ClaimHolder {
  /** First 8 hex characters of the holder's token. */
  readonly holder: string;
  readonly claim: Claim;
  /** Ms until its lease expires unless renewed; `-1` if the backend cannot tell. */
  readonly ttlRemaining: number;
  readonly fencingToken: bigint;
}

/** Every holder of a key and how many callers wait for it. */
export interface KeyHolders {
  readonly key: string;
  readonly holders: readonly ClaimHolder[];
  /** Callers queued on the server (`0` without a wait list). */
  readonly waiting: number;
}

/** How long a waiter of a native queue may wait, and what stops it. */
export interface QueueWait {
  /** Monotonic deadline (ms): then the driver cleans up and returns `{ acquired: false }`. */
  readonly deadline: number;
  /** Rejects with `signal.reason` after cleaning up. */
  readonly signal: AbortSignal | undefined;
}

/** The optional features of a driver, declared: the engine uses exactly what is listed. */
export interface DriverFeatures<D> {
  /**
   * Claims this driver serves (a mutex driver: `['exclusive']`; a read-write lock's:
   * `['exclusive', 'shared']`; a semaphore's: `['permits']`). A claim of another kind is refused
   * with `InvalidOptionError` before any I/O.
   */
  readonly claims: readonly ClaimKind[];
  /**
   * The server orders waiting callers (see {@link WaitList}): every waiting attempt carries
   * `waiting: true`, and the engine calls `leave` when a caller gives up. Declare it whenever
   * the driver serves `shared` or `permits` claims over more than one process.
   */
  readonly waitList?: WaitList;
  /**
   * Every holder of `key` with its claim (required by read-write locks and semaphores, whose
   * `inspect` reports readers, writer, permits in use).
   */
  readonly inspectHolders?: (key: string) => Promise<KeyHolders>;
  /** Release notifications that wake waiters before the holder's lease would end. */
  readonly releaseFeed?: ReleaseFeed;
  /**
   * Hands `lock` straight to `token` (a sleeping waiter of the same engine) in one atomic step:
   * if `lock` is still held by its token, `token` becomes the holder with a lease of `ttl` ms and
   * a new, higher fencing token; otherwise nothing changes and the result is not acquired. With
   * this feature the engine accepts the `maxLocalHandOvers` option. Hand-over is a mutex
   * feature: a driver that serves `shared` or `permits` claims must not declare it (the engine
   * refuses such a driver), since passing a lock locally would overtake the server's queue.
   * A driver with a {@link waitList} hands over only to the caller first in line; to anyone
   * else it releases the lock instead, in the same step, and answers `{ acquired: false,
   * released: true }` (the engine then treats the unlock as a release).
   */
  readonly transfer?: (lock: HeldLock<D>, token: string, ttl: number, turn?: boolean) => Promise<TransferResult<D>>;
  /**
   * The server's line holds one place per engine and key, and the engine orders its own callers
   * behind it (declared with {@link waitList} and {@link transfer}). A caller of `lock()` that
   * finds a caller of the same engine already holding a place for the key queues behind it here,
   * without an attempt. When a caller of this engine acquires the key, the callers queued here
   * before that moment form its turn: each release hands the key to the next of them, with
   * `transfer(lock, token, ttl, true)`, which the driver must grant to that waiter whether or not
   * it is first in line (its place, if it has one, goes) while it still holds the key. Then the
   * key goes on in the line's order. So a process's waiters cost the server one place per turn,
   * not one per caller, and waiters of every process still take turns in arrival order.
   */
  readonly turns?: boolean;
  /**
   * A wait queue on the server (etcd's revision-ordered mutex): `lock()` waits in it instead
   * of the engine's retry loop, until acquired, `wait.deadline` (not acquired) or the signal.
   */
  readonly queue?: (request: AcquireRequest, wait: QueueWait) => Promise<AcquireResult<D>>;
  /**
   * How much of a lease may be lost to clock drift between servers, in ms for a lease of `ttl`
   * (Redlock): the lock counts as held until `start + ttl - drift(ttl)`.
   */
  readonly drift?: (ttl: number) => number;
  /**
   * A TTL below `ms` is refused with `InvalidOptionError` before any I/O (a driver whose
   * algorithm cannot hold shorter leases safely says why in `reason`). Drivers that round a
   * short TTL up instead (etcd) leave this out and say so in `capabilities`.
   */
  readonly minTtl?: { readonly ms: number; readonly reason: string };
  /** The client's last connection failure, named in backend errors while it cannot connect. */
  readonly lastConnectionError?: () => Error | undefined;
}

/**
 * A backend as the engine sees it: a few owner-checked operations on the server, and declared
 * features. `D` is what the driver keeps per held lock (Redis: its key names; etcd: its lease
 * and queue key), typed end to end instead of `unknown`.
 *
 * Every method may reject with the client's own error: the engine wraps it in
 * `LockBackendError` and decides (with {@link isTransient}) whether a waiting `lock()` retries.
 * A driver never validates options the engine validates (keys, TTLs, handles).
 */
export interface LockDriver<D> {
  /** Backend name used in errors and logs (`memory`, `redis`, `etcd`, `redlock`). */
  readonly backend: string;
  readonly capabilities: LockCapabilities;
  readonly features: DriverFeatures<D>;
  /** Called once by the engine that owns this driver, before any other call. */
  attach(host: DriverHost<D>): void;
  /** One attempt to take a key. */
  acquire(request: AcquireRequest): Promise<AcquireResult<D>>;
  /** Owner-checked release: `true` if it was ours and is now released, `false` if not ours. */
  release(lock: HeldLock<D>): Promise<boolean>;
  /** Owner-checked extension to `ttl` ms: `true` if still ours, `false` if lost. */
  renew(lock: HeldLock<D>, ttl: number): Promise<boolean>;
  /**
   * Renews many locks to their own `ttl` at once (one round trip where it can). One result per
   * lock, in order: renewed, lost, or an error. The watchdog calls it once per tick with every
   * lock due; a driver that loops over thousands of locks (building the request, reading the
   * replies) awaits `options.pace` between units of work, so the tick yields to the event loop.
   */
  renewMany(locks: readonly HeldLock<D>[], options?: RenewManyOptions): Promise<Array<boolean | Error>>;
  /**
   * The engine stopped tracking `lock` because it was lost (expired here, or found gone): free
   * what the driver keeps for it, and give the key back if it may still be ours (owner-checked,
   * best effort). Must not throw.
   */
  abandon(lock: HeldLock<D>): void;
  /** The current holder of `key`, or `null`. */
  inspect(key: string): Promise<LockInfo | null>;
  /** Whether a failure (the client's error) may pass, so that a waiting `lock()` retries it. */
  isTransient(error: unknown): boolean;
  /** Free connections and timers; called by the engine's `close()` after it released what it held. */
  close(): Promise<void>;
}
