// What every group of the read-write lock and semaphore contracts is given: the backend's
// options, its timing resolved from its capabilities, and instances closed after each test.
import type { LockCapabilities } from '@dlock/core';
import { afterEach } from 'vitest';
import { uniqueKey } from '../util.js';

/** What the read-write lock and semaphore suites may expect of a backend. */
export interface PrimitiveContractOptions {
  /** TTL (ms) for the tests that let a lease run out. @default max(capabilities.minTtlMs, 300) */
  shortTtl?: number;
  /**
   * Most ms a waiter may take to notice a release (also: how far past its waitTimeout a waiter
   * may give up). Choose it to hold on a loaded machine. @default 1_000
   */
  wakeupBudgetMs?: number;
}

/** Timing resolved from the options and the backend's capabilities. */
export interface PrimitiveTiming {
  fencing: 'strict' | 'none';
  shortTtl: number;
  wakeupBudgetMs: number;
  /** A TTL long enough never to expire during a test. */
  longTtl: number;
}

/** An instance of a primitive as the suites need it. */
interface Closable {
  readonly capabilities: LockCapabilities;
  close(): Promise<void>;
}

/** Two instances (like two processes on one server), the timing, and a fresh key. */
export interface PrimitivePair<T> {
  a: T;
  b: T;
  c: PrimitiveTiming;
  key: string;
}

/** Handed to each group's registration function. */
export interface PrimitiveContext<T> {
  readonly options: PrimitiveContractOptions;
  /** A new instance from the factory, closed after the test. */
  open(): Promise<T>;
  /** Two new instances, the timing and a unique key. */
  setup(): Promise<PrimitivePair<T>>;
}

/** Resolves the timing of a backend's tests from its capabilities and the options. */
export function resolveTiming(capabilities: LockCapabilities, options: PrimitiveContractOptions): PrimitiveTiming {
  const { minTtlMs, ttlGranularityMs, fencing } = capabilities;
  const rawShort = options.shortTtl ?? Math.max(minTtlMs, 300);
  const shortTtl = Math.ceil(rawShort / ttlGranularityMs) * ttlGranularityMs;
  return { fencing, shortTtl, wakeupBudgetMs: options.wakeupBudgetMs ?? 1_000, longTtl: Math.max(60_000, shortTtl * 20) };
}

/**
 * Builds the context and registers the `afterEach` that closes what the test opened. Call it
 * inside the suite's `describe`, before the groups register their tests.
 */
export function primitiveContext<T extends Closable>(factory: () => T | Promise<T>, options: PrimitiveContractOptions): PrimitiveContext<T> {
  const opened: T[] = [];
  const open = async (): Promise<T> => {
    const instance = await factory();
    opened.push(instance);
    return instance;
  };
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((i) => i.close()));
  });
  return {
    options,
    open,
    async setup() {
      const a = await open();
      const b = await open();
      return { a, b, c: resolveTiming(a.capabilities, options), key: uniqueKey() };
    },
  };
}

/** Whether `promise` is still pending after `ms` (it is left running). */
export async function pendingAfter(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  await new Promise((resolve) => setTimeout(resolve, ms));
  return !settled;
}
