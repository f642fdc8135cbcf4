import type { HeldLock, LockDriver } from '../engine/driver.js';
import type { AcquireOptions, LockCapabilities, LockHandle, RenewObserver } from '../types.js';

/** Who leads an election: the value the leader proclaimed, and its term. */
export interface LeaderInfo {
  /** What the leader campaigned with or proclaimed last (an address, a pod name, ...). */
  readonly value: string;
  /**
   * Strictly increases per election name across all leaders (given by the server): pass it to
   * the resource the leader writes to and reject writes carrying a lower one.
   */
  readonly term: bigint;
}

/** Options of one `campaign()`: those of a lock acquisition, plus the renewal. */
export interface CampaignOptions extends AcquireOptions {
  /**
   * Keep the leadership alive while it is held, renewing its lease at ttl/3 (batched with every
   * other lease of the instance). `false`: the leadership ends `ttl` ms after the last
   * `extend()` unless renewed by hand.
   * @default true
   */
  autoRenew?: boolean;
}

/** Options of one `observe()`. */
export interface ObserveOptions {
  /** Ends the iteration (the loop simply finishes). */
  signal?: AbortSignal;
}

/**
 * A won election: a lock handle on the election's name, with a term and a value.
 * `signal` aborts with `LockLostError` when the leadership is lost (lease expired, key deleted),
 * or `LockReleasedError` after `resign()`.
 *
 * @example
 * ```ts
 * await using leadership = await election.campaign('billing-cron', podName);
 * await runJobs({ fence: leadership.term, signal: leadership.signal });
 * ```
 */
export interface Leadership extends LockHandle {
  /** The election's name (the same as `key`). */
  readonly name: string;
  /** This leader's term: the handle's `fencingToken`. */
  readonly term: bigint;
  /** The value this leader last campaigned with or proclaimed. */
  readonly value: string;
  /** Changes the leader's value without an election; owner-checked (`LockNotHeldError` if lost). */
  proclaim(value: string): Promise<void>;
  /** Gives the leadership up: the next candidate is elected. Same as `release()`. */
  resign(): Promise<void>;
}

/**
 * Leader election: one leader per name at a time; candidates wait without polling; the leader's
 * lease is renewed by the watchdog and a leader that stops renewing is replaced after its TTL.
 */
export interface Election {
  /** Backend name used in errors and logs (`memory`, `redis`, `etcd`). */
  readonly backend: string;
  readonly capabilities: LockCapabilities;
  /**
   * Waits until elected for `name` (or `waitTimeout` passes: `LockAcquireTimeoutError`, or
   * `signal` aborts) and resolves with the leadership. Validates everything before any I/O.
   */
  campaign(name: string, value: string, options?: CampaignOptions): Promise<Leadership>;
  /** The current leader of `name`, or `null` when there is none. */
  leader(name: string): Promise<LeaderInfo | null>;
  /**
   * The leaders of `name` as they change: first the current one (or `null`), then every new
   * leader or new value, and `null` whenever nobody leads. Ends when `signal` aborts or the
   * election is closed; rides out backend outages (a change missed meanwhile shows as the state
   * found after it).
   */
  observe(name: string, options?: ObserveOptions): AsyncIterable<LeaderInfo | null>;
  /**
   * Keeps `leadership` alive by renewing it at ttl/3 until it ends or the returned function is
   * called (for a leadership campaigned with `autoRenew: false`).
   */
  autoRenew(leadership: LockHandle, observer?: RenewObserver): () => void;
  /** Same as `leadership.extend(ttl)`: owner-checked, `LockNotHeldError` if the leadership was lost. */
  renew(leadership: LockHandle, ttl?: number): Promise<void>;
  /** Resigns every leadership of this instance, ends its observers, frees connections. */
  close(): Promise<void>;
}

/**
 * A backend's election as the engine sees it: a lock driver (the leadership is an exclusive
 * lock on the election's name, whose fencing token is the term) plus the value of each
 * leader and the way to follow changes.
 */
export interface ElectionDriver<D> extends LockDriver<D> {
  /**
   * The value of the campaign under way in this instance, by election name: set by the engine
   * before the campaign's first attempt and removed once it ends (one campaign per name and
   * instance at a time). `acquire` (and `queue`) lead with it.
   */
  readonly campaigns: Map<string, string>;
  /** Sets the value of a held leadership: `false` (after telling the host) if it is not ours any more. */
  proclaim(lock: HeldLock<D>, value: string): Promise<boolean>;
  /** The current leader of `name`. */
  leader(name: string): Promise<LeaderInfo | null>;
  /**
   * Calls `emit` with the current leader of `name` and then after each change, until `signal`
   * aborts (then resolves). Emitting a state twice is harmless (the engine drops repeats);
   * rejecting restarts the observation after a backoff if `isTransient` says so.
   */
  observe(name: string, emit: (leader: LeaderInfo | null) => void, signal: AbortSignal): Promise<void>;
}
