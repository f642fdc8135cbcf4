import { timerDelay } from '../sleep.js';
import type { LockInfo } from '../types.js';

interface Entry {
  token: string;
  fence: bigint;
  expiresAt: number;
  timer: NodeJS.Timeout;
}

/**
 * The shared state behind `MemoryLock` instances: who holds which key until when. Every
 * `MemoryLock` built on the same store excludes the others. One counter serves as the fencing
 * token of every key, so tokens strictly increase per key (and across keys) for the store's life.
 */
export class MemoryLockStore {
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Set<(key: string) => void>();
  #fence = 0n;

  /** Takes `key` if free: the fencing token, or the ms left on the holder's lease. */
  acquire(key: string, token: string, ttl: number): { fence: bigint } | { retryAfter: number } {
    const current = this.#live(key);
    if (current !== undefined) return { retryAfter: Math.max(0, current.expiresAt - performance.now()) };
    this.#fence += 1n;
    const entry: Entry = { token, fence: this.#fence, expiresAt: 0, timer: undefined as unknown as NodeJS.Timeout };
    this.#entries.set(key, entry);
    this.#arm(key, entry, ttl);
    return { fence: entry.fence };
  }

  /** Deletes `key` if `token` holds it. */
  release(key: string, token: string): boolean {
    const current = this.#live(key);
    if (current === undefined || current.token !== token) return false;
    this.#drop(key, current);
    return true;
  }

  /**
   * If `token` holds `key`, makes `to` the holder with a lease of `ttl` ms and a new fencing
   * token (no release in between, so nobody else is told); otherwise changes nothing.
   */
  transfer(key: string, token: string, to: string, ttl: number): { fence: bigint } | { retryAfter: number } {
    const current = this.#live(key);
    if (current === undefined || current.token !== token) {
      return { retryAfter: current === undefined ? 0 : Math.max(0, current.expiresAt - performance.now()) };
    }
    clearTimeout(current.timer);
    this.#fence += 1n;
    current.token = to;
    current.fence = this.#fence;
    this.#arm(key, current, ttl);
    return { fence: current.fence };
  }

  /** Extends `key` to `ttl` ms from now if `token` holds it. */
  renew(key: string, token: string, ttl: number): boolean {
    const current = this.#live(key);
    if (current === undefined || current.token !== token) return false;
    clearTimeout(current.timer);
    this.#arm(key, current, ttl);
    return true;
  }

  inspect(key: string): LockInfo | null {
    const current = this.#live(key);
    if (current === undefined) return null;
    return {
      key,
      holder: current.token.slice(0, 8),
      ttlRemaining: Math.max(0, Math.ceil(current.expiresAt - performance.now())),
      fencingToken: current.fence,
    };
  }

  /** Number of keys held now. */
  get size(): number {
    return this.#entries.size;
  }

  /** Calls `listener(key)` after every release or expiry; returns the unsubscribe function. */
  onRelease(listener: (key: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #arm(key: string, entry: Entry, ttl: number): void {
    entry.expiresAt = performance.now() + ttl;
    this.#setTimer(key, entry);
  }

  /** Drops `entry` when its lease ends; a timer that fires early (clamped delay) waits again. */
  #setTimer(key: string, entry: Entry): void {
    entry.timer = setTimeout(() => {
      if (this.#entries.get(key) !== entry) return;
      if (entry.expiresAt > performance.now()) this.#setTimer(key, entry);
      else this.#drop(key, entry);
    }, timerDelay(Math.ceil(entry.expiresAt - performance.now())));
    entry.timer.unref();
  }

  /** The entry of `key` if its lease has not run out (timers can fire late; time cannot). */
  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry !== undefined && entry.expiresAt <= performance.now()) {
      this.#drop(key, entry);
      return undefined;
    }
    return entry;
  }

  #drop(key: string, entry: Entry): void {
    clearTimeout(entry.timer);
    this.#entries.delete(key);
    for (const listener of this.#listeners) listener(key);
  }
}

/** The store `new MemoryLock()` uses unless given one: one lock space per process. */
export const defaultMemoryStore = new MemoryLockStore();
