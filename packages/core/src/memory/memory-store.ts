import { timerDelay } from '../sleep.js';
import type { LockInfo } from '../types.js';

interface Entry {
  token: string;
  fence: bigint;
  expiresAt: number;
  timer: NodeJS.Timeout;
}

/**
 * The shared state behind `MemoryLock` instances: who holds which key until when, and who waits
 * for it in which order. Every `MemoryLock` built on the same store excludes the others, and
 * their waiters take a free key in the order they came, whichever instance they wait in. One
 * counter serves as the fencing token of every key, so tokens strictly increase per key (and
 * across keys) for the store's life.
 */
export class MemoryLockStore {
  readonly #entries = new Map<string, Entry>();
  /** Waiting tokens per key, in arrival order (only keys with waiters). */
  readonly #waiting = new Map<string, string[]>();
  readonly #listeners = new Set<(key: string, next: string | undefined) => void>();
  #fence = 0n;

  /**
   * Takes `key` if it is free and nobody waits before `token`: the fencing token, or the ms left
   * on the holder's lease (`0` when free but another waiter is first). A caller that `waits`
   * keeps (or takes) its place in line when not granted; a single attempt leaves none.
   */
  acquire(key: string, token: string, ttl: number, waits = false): { fence: bigint } | { retryAfter: number } {
    const current = this.#live(key);
    const line = this.#waiting.get(key);
    const first = line?.[0];
    if (current === undefined && (first === undefined || first === token)) {
      if (first !== undefined) this.#leaveLine(key, token);
      this.#fence += 1n;
      const entry: Entry = { token, fence: this.#fence, expiresAt: 0, timer: undefined as unknown as NodeJS.Timeout };
      this.#entries.set(key, entry);
      this.#arm(key, entry, ttl);
      return { fence: entry.fence };
    }
    if (waits && !line?.includes(token)) {
      if (line === undefined) this.#waiting.set(key, [token]);
      else line.push(token);
    }
    return { retryAfter: current === undefined ? 0 : Math.max(0, current.expiresAt - performance.now()) };
  }

  /** A waiting caller gave up: its place goes; when it was first for a free key, the next is told. */
  leave(key: string, token: string): void {
    const line = this.#waiting.get(key);
    const wasFirst = line?.[0] === token;
    if (!this.#leaveLine(key, token)) return;
    if (wasFirst && this.#live(key) === undefined) {
      const next = this.#waiting.get(key)?.[0];
      if (next !== undefined) for (const listener of this.#listeners) listener(key, next);
    }
  }

  /** Number of callers waiting in line for `key`. */
  waiting(key: string): number {
    return this.#waiting.get(key)?.length ?? 0;
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
  transfer(key: string, token: string, to: string, ttl: number): { fence: bigint } | { retryAfter: number } | { declined: true } {
    const current = this.#live(key);
    if (current === undefined || current.token !== token) {
      return { retryAfter: current === undefined ? 0 : Math.max(0, current.expiresAt - performance.now()) };
    }
    // Only to the caller first in line: passing it to anyone else would overtake waiters of
    // other instances. Then it is released instead (and the first in line is told).
    const first = this.#waiting.get(key)?.[0];
    if (first !== undefined && first !== to) {
      this.#drop(key, current);
      return { declined: true };
    }
    if (first !== undefined) this.#leaveLine(key, to);
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

  /**
   * Calls `listener(key, next)` after every release or expiry (`next`: the token first in line,
   * if any), and when the first waiter of a free key left; returns the unsubscribe function.
   */
  onRelease(listener: (key: string, next: string | undefined) => void): () => void {
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
    const next = this.#waiting.get(key)?.[0];
    for (const listener of this.#listeners) listener(key, next);
  }

  /** Takes `token` out of `key`'s line; whether it was in it. */
  #leaveLine(key: string, token: string): boolean {
    const line = this.#waiting.get(key);
    const i = line === undefined ? -1 : line.indexOf(token);
    if (i < 0) return false;
    line!.splice(i, 1);
    if (line!.length === 0) this.#waiting.delete(key);
    return true;
  }
}

/** The store `new MemoryLock()` uses unless given one: one lock space per process. */
export const defaultMemoryStore = new MemoryLockStore();
