import type { Claim, ClaimHolder } from '../engine/driver.js';
import { InvalidOptionError } from '../errors.js';
import { SemaphoreLimitMismatchError } from '../semaphore/errors.js';
import { timerDelay } from '../sleep.js';
import type { LockInfo } from '../types.js';
import { Admission } from './admission.js';

interface Holder {
  readonly claim: Claim;
  readonly fence: bigint;
  expiresAt: number;
  timer: NodeJS.Timeout | undefined;
}

interface Place {
  readonly claim: Claim;
  /** When the place goes if its caller does not come back (it died, or forgot to leave). */
  expiresAt: number;
}

/** The holders of one key and its wait list, in arrival order (a `Map` keeps insertion order). */
interface KeyState {
  readonly holders: Map<string, Holder>;
  readonly waiters: Map<string, Place>;
}

/** What a successful acquire returns, or how long until the state may change by itself (`-1`: unknown). */
export type ClaimAnswer = { readonly fence: bigint } | { readonly retryAfter: number };

/**
 * The shared state behind `MemoryReadWriteLock` and `MemorySemaphore` instances: per key, its
 * holders (each with its claim, fencing token and lease) and a FIFO wait list, admitted by the
 * rule of {@link Admission}. Instances on one store exclude each other as processes on one Redis
 * would. One counter gives every acquisition of every key its fencing token, so tokens strictly
 * increase per key across readers, writers and permits for the store's life.
 *
 * Every operation is synchronous: nothing can happen between the check and the change.
 */
export class MemoryClaimStore {
  readonly #keys = new Map<string, KeyState>();
  readonly #listeners = new Set<(key: string) => void>();
  #fence = 0n;

  /**
   * Admits `token` to `key` for `claim` if it fits the holders and the callers queued before it:
   * the new fencing token. Otherwise, for a `waiting` caller, takes (or keeps) its place in the
   * wait list for `placeTtl` ms past `retryAfter`; a single attempt leaves no trace.
   * @throws SemaphoreLimitMismatchError when `claim` is `permits` with another limit than the
   *   key's holders and waiters (nothing changes then).
   */
  acquire(key: string, token: string, ttl: number, claim: Claim, waiting: boolean, placeTtl: number): ClaimAnswer {
    const state = this.#live(key);
    if (state === undefined) return this.#admit(key, this.#create(key), token, ttl, claim);
    if (claim.kind === 'permits') checkLimit(key, state, claim);
    const group = new Admission();
    for (const h of state.holders.values()) group.add(h.claim);
    for (const [t, place] of state.waiters) {
      if (t === token) break; // callers queued after us do not count
      group.add(place.claim);
    }
    if (group.fits(claim)) {
      state.waiters.delete(token);
      return this.#admit(key, state, token, ttl, claim);
    }
    const retryAfter = this.#retryAfter(state);
    if (waiting) {
      const place = state.waiters.get(token);
      const expiresAt = performance.now() + Math.max(0, retryAfter) + placeTtl;
      if (place === undefined) state.waiters.set(token, { claim, expiresAt });
      else place.expiresAt = expiresAt;
    }
    return { retryAfter };
  }

  /** The waiting caller `token` gave up: its place goes (and those behind it are told). */
  leave(key: string, token: string): void {
    const state = this.#keys.get(key);
    if (state === undefined || !state.waiters.delete(token)) return;
    this.#settle(key, state);
  }

  /** Releases `token`'s hold on `key`: `false` when it held nothing there (expired, or never). */
  release(key: string, token: string): boolean {
    const state = this.#live(key);
    const holder = state?.holders.get(token);
    if (state === undefined || holder === undefined) return false;
    this.#drop(key, state, token, holder);
    return true;
  }

  /** Extends `token`'s hold on `key` to `ttl` ms from now: `false` when it holds nothing there. */
  renew(key: string, token: string, ttl: number): boolean {
    const holder = this.#live(key)?.holders.get(token);
    if (holder === undefined) return false;
    clearTimeout(holder.timer);
    this.#arm(key, token, holder, ttl);
    return true;
  }

  /** Every holder of `key` and how many callers wait for it. */
  holders(key: string): { holders: ClaimHolder[]; waiting: number } {
    const state = this.#live(key);
    if (state === undefined) return { holders: [], waiting: 0 };
    const now = performance.now();
    const holders = [...state.holders].map(([token, h]) => ({
      holder: token.slice(0, 8),
      claim: h.claim,
      ttlRemaining: Math.max(0, Math.ceil(h.expiresAt - now)),
      fencingToken: h.fence,
    }));
    return { holders, waiting: state.waiters.size };
  }

  /** The most recent holder of `key` (highest fencing token), as a mutex's `inspect` shows it. */
  inspect(key: string): LockInfo | null {
    const { holders } = this.holders(key);
    let last: ClaimHolder | undefined;
    for (const h of holders) if (last === undefined || h.fencingToken > last.fencingToken) last = h;
    return last === undefined ? null : { key, holder: last.holder, ttlRemaining: last.ttlRemaining, fencingToken: last.fencingToken };
  }

  /** Number of keys with a holder or a waiter now (idle keys are removed). */
  get size(): number {
    return this.#keys.size;
  }

  /**
   * Calls `listener(key)` after every release, expiry, or departure from a wait list (each may
   * admit someone); returns the unsubscribe function.
   */
  onRelease(listener: (key: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #create(key: string): KeyState {
    const state: KeyState = { holders: new Map(), waiters: new Map() };
    this.#keys.set(key, state);
    return state;
  }

  #admit(key: string, state: KeyState, token: string, ttl: number, claim: Claim): ClaimAnswer {
    this.#fence += 1n;
    const holder: Holder = { claim, fence: this.#fence, expiresAt: 0, timer: undefined };
    state.holders.set(token, holder);
    this.#arm(key, token, holder, ttl);
    return { fence: holder.fence };
  }

  /** Ms until the first holder's lease ends (the state may change by itself then), `-1` without holders. */
  #retryAfter(state: KeyState): number {
    let first = Infinity;
    for (const h of state.holders.values()) first = Math.min(first, h.expiresAt);
    return first === Infinity ? -1 : Math.max(0, first - performance.now());
  }

  #arm(key: string, token: string, holder: Holder, ttl: number): void {
    holder.expiresAt = performance.now() + ttl;
    this.#setTimer(key, token, holder);
  }

  /** Drops `holder` when its lease ends; a timer that fires early (clamped delay) waits again. */
  #setTimer(key: string, token: string, holder: Holder): void {
    holder.timer = setTimeout(() => {
      const state = this.#keys.get(key);
      if (state?.holders.get(token) !== holder) return;
      if (holder.expiresAt > performance.now()) this.#setTimer(key, token, holder);
      else this.#drop(key, state, token, holder);
    }, timerDelay(Math.ceil(holder.expiresAt - performance.now())));
    holder.timer.unref();
  }

  /** The state of `key` without expired holders and places (timers can fire late; time cannot). */
  #live(key: string): KeyState | undefined {
    const state = this.#keys.get(key);
    if (state === undefined) return undefined;
    const now = performance.now();
    let changed = false;
    for (const [token, h] of state.holders) {
      if (h.expiresAt > now) continue;
      clearTimeout(h.timer);
      state.holders.delete(token);
      changed = true;
    }
    for (const [token, place] of state.waiters) {
      if (place.expiresAt > now) continue;
      state.waiters.delete(token);
      changed = true;
    }
    if (changed) this.#settle(key, state);
    return this.#keys.get(key);
  }

  #drop(key: string, state: KeyState, token: string, holder: Holder): void {
    clearTimeout(holder.timer);
    state.holders.delete(token);
    this.#settle(key, state);
  }

  /** The state changed so that someone may be admitted: forget an idle key, tell the listeners. */
  #settle(key: string, state: KeyState): void {
    if (state.holders.size === 0 && state.waiters.size === 0 && this.#keys.get(key) === state) this.#keys.delete(key);
    for (const listener of this.#listeners) listener(key);
  }
}

/** Every holder and waiter of a key uses one limit (see `SemaphoreLimitMismatchError`). */
function checkLimit(key: string, state: KeyState, claim: Claim & { kind: 'permits' }): void {
  for (const other of [state.holders.values(), state.waiters.values()]) {
    for (const { claim: c } of other) {
      if (c.kind === 'permits' && c.limit !== claim.limit) throw new SemaphoreLimitMismatchError(key, claim.limit, c.limit, { backend: 'memory' });
    }
  }
}

/** The `store` option of a memory read-write lock or semaphore, or `fallback` when not given. */
export function storeOption(options: unknown, fallback: MemoryClaimStore): MemoryClaimStore {
  const store = typeof options === 'object' && options !== null ? (options as { store?: unknown }).store : undefined;
  if (store === undefined) return fallback;
  if (!(store instanceof MemoryClaimStore)) throw new InvalidOptionError('store', 'a MemoryClaimStore', store);
  return store;
}
