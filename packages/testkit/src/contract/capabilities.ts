import type { DistributedLock } from '@dlock/core';
import type { OutageFixture } from './types.js';

/** What the contract suite may expect of a backend. Flags, not forked tests. */
export interface ContractOptions {
  /** Waiters of one instance acquire in arrival order. @default false */
  fifo?: boolean;
  /**
   * Waiters of every instance (every process) acquire in arrival order, so a busy instance
   * cannot starve another: the fairness tests run. `'turns'`: fair by instance turns instead
   * (a backend whose server keeps one place per instance): instances take turns in the order
   * they came, and each turn serves, in arrival order, the waiters that instance had queued
   * before its turn began. @default false
   */
  fair?: boolean | 'turns';
  /** TTL (ms) for the tests that let a lease run out. @default max(capabilities.minTtlMs, 300) */
  shortTtl?: number;
  /**
   * Most ms a waiter may take to notice a release (also: how far past its waitTimeout a waiter
   * may give up, and how long `waitTimeout: 0` and an abort may take). Choose it to hold on a
   * loaded machine yet stay below the backend's polling interval, so that it still tells a
   * woken waiter from a polling one. @default 1_000
   */
  wakeupBudgetMs?: number;
  /**
   * Runs the outage contract too: a backend with a server gives a way to reach it through
   * loopback proxies that can refuse connections. (The in-process memory backend has no outage.)
   */
  outage?: OutageFixture;
}

/** Resolved: options merged with the backend's own `capabilities`. */
export interface ResolvedContract {
  fifo: boolean;
  fencing: 'strict' | 'none';
  shortTtl: number;
  wakeupBudgetMs: number;
  /** A TTL long enough never to expire during a test. */
  longTtl: number;
}

/**
 * Whether the backend promises that waiters of one instance acquire in arrival order. Known
 * from the options alone, so the suite can register the test that fits before any lock exists.
 */
export function promisesFifo(options: ContractOptions): boolean {
  return options.fifo ?? false;
}

export function resolveContract(lock: DistributedLock, options: ContractOptions): ResolvedContract {
  const { minTtlMs, ttlGranularityMs, fencing } = lock.capabilities;
  const rawShort = options.shortTtl ?? Math.max(minTtlMs, 300);
  const shortTtl = Math.ceil(rawShort / ttlGranularityMs) * ttlGranularityMs;
  return {
    fifo: promisesFifo(options),
    fencing,
    shortTtl,
    wakeupBudgetMs: options.wakeupBudgetMs ?? 1_000,
    longTtl: Math.max(60_000, shortTtl * 20),
  };
}
