import { timerDelay } from '../sleep.js';
import type { LeaderInfo } from './types.js';

interface Leader {
  token: string;
  value: string;
  term: bigint;
  expiresAt: number;
  timer: NodeJS.Timeout | undefined;
}

/** A leader as the store reports it: with the holder's token and the lease left. */
export interface StoredLeader extends LeaderInfo {
  readonly token: string;
  /** Ms until the lease ends unless renewed. */
  readonly ttlRemaining: number;
}

type ChangeListener = (leader: LeaderInfo | null) => void;

/**
 * The shared state behind `MemoryElection` instances: the leader of each election name until
 * its lease ends. Instances on one store take part in the same elections. One counter gives
 * every term, so terms strictly increase per name (and across names) for the store's life.
 */
export class MemoryElectionStore {
  readonly #leaders = new Map<string, Leader>();
  readonly #changes = new Map<string, Set<ChangeListener>>();
  readonly #ended = new Set<(name: string) => void>();
  #term = 0n;

  /** Leads `name` if nobody does: the term, or the ms left on the leader's lease. */
  campaign(name: string, token: string, value: string, ttl: number): { term: bigint } | { retryAfter: number } {
    const current = this.#live(name);
    if (current !== undefined) return { retryAfter: Math.max(0, current.expiresAt - performance.now()) };
    this.#term += 1n;
    const leader: Leader = { token, value, term: this.#term, expiresAt: 0, timer: undefined };
    this.#leaders.set(name, leader);
    this.#arm(name, leader, ttl);
    this.#changed(name, leader);
    return { term: leader.term };
  }

  /** Ends the leadership of `token`. */
  resign(name: string, token: string): boolean {
    const current = this.#live(name);
    if (current === undefined || current.token !== token) return false;
    this.#drop(name, current);
    return true;
  }

  /** Extends the lease of `token` to `ttl` ms from now. */
  renew(name: string, token: string, ttl: number): boolean {
    const current = this.#live(name);
    if (current === undefined || current.token !== token) return false;
    clearTimeout(current.timer);
    this.#arm(name, current, ttl);
    return true;
  }

  /** Sets the value of the leadership of `token`. */
  proclaim(name: string, token: string, value: string): boolean {
    const current = this.#live(name);
    if (current === undefined || current.token !== token) return false;
    if (current.value !== value) {
      current.value = value;
      this.#changed(name, current);
    }
    return true;
  }

  leader(name: string): StoredLeader | null {
    const current = this.#live(name);
    if (current === undefined) return null;
    const ttlRemaining = Math.max(0, Math.ceil(current.expiresAt - performance.now()));
    return { token: current.token, value: current.value, term: current.term, ttlRemaining };
  }

  /** Calls `listener` after every change of `name`'s leader (new leader, new value, none); returns the unsubscribe function. */
  onChange(name: string, listener: ChangeListener): () => void {
    let set = this.#changes.get(name);
    if (set === undefined) this.#changes.set(name, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.#changes.get(name) === set) this.#changes.delete(name);
    };
  }

  /** Calls `listener(name)` whenever a leadership ends (resigned or expired). */
  onEnded(listener: (name: string) => void): () => void {
    this.#ended.add(listener);
    return () => this.#ended.delete(listener);
  }

  #arm(name: string, leader: Leader, ttl: number): void {
    leader.expiresAt = performance.now() + ttl;
    this.#setTimer(name, leader);
  }

  #setTimer(name: string, leader: Leader): void {
    leader.timer = setTimeout(() => {
      if (this.#leaders.get(name) !== leader) return;
      if (leader.expiresAt > performance.now()) this.#setTimer(name, leader);
      else this.#drop(name, leader);
    }, timerDelay(Math.ceil(leader.expiresAt - performance.now())));
    leader.timer.unref();
  }

  /** The leader of `name` if its lease has not run out (timers can fire late; time cannot). */
  #live(name: string): Leader | undefined {
    const leader = this.#leaders.get(name);
    if (leader !== undefined && leader.expiresAt <= performance.now()) {
      this.#drop(name, leader);
      return undefined;
    }
    return leader;
  }

  #drop(name: string, leader: Leader): void {
    clearTimeout(leader.timer);
    this.#leaders.delete(name);
    this.#changed(name, null);
    for (const listener of this.#ended) listener(name);
  }

  #changed(name: string, leader: Leader | null): void {
    const info = leader === null ? null : { value: leader.value, term: leader.term };
    for (const listener of this.#changes.get(name) ?? []) listener(info);
  }
}

/** The store `new MemoryElection()` uses unless given one: one set of elections per process. */
export const defaultMemoryElectionStore = new MemoryElectionStore();
