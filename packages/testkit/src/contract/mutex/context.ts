// What every group of the lock contract is given: the backend's options and a way to open lock
// instances that are closed after each test.
import type { DistributedLock } from '@dlock/core';
import { afterEach } from 'vitest';
import { uniqueKey } from '../../util.js';
import { promisesFifo, resolveContract, type ContractOptions, type ResolvedContract } from '../capabilities.js';
import type { LockFactory } from '../types.js';

/** Two instances of the backend (like two processes), what it promises, and a fresh key. */
export interface ContractPair {
  a: DistributedLock;
  b: DistributedLock;
  c: ResolvedContract;
  key: string;
}

/** Handed to each group's registration function. */
export interface ContractContext {
  /** The options the backend's test file passed. */
  readonly options: ContractOptions;
  /** Whether waiters of one instance acquire in arrival order (decides which tests register). */
  readonly fifo: boolean;
  /** Whether waiters of every instance acquire in arrival order (the fairness tests register). */
  readonly fair: boolean;
  /** Whether that order is by instance turns (see `ContractOptions.fair`). */
  readonly turns: boolean;
  /** A new instance from the factory, closed after the test. */
  open(): Promise<DistributedLock>;
  /** Two new instances, the resolved contract and a unique key. */
  setup(): Promise<ContractPair>;
}

/**
 * Builds the context and registers the `afterEach` that closes what the test opened. Call it
 * inside the suite's `describe`, before the groups register their tests.
 */
export function contractContext(factory: LockFactory, options: ContractOptions): ContractContext {
  const opened: DistributedLock[] = [];
  const open = async (): Promise<DistributedLock> => {
    const lock = await factory();
    opened.push(lock);
    return lock;
  };
  afterEach(async () => {
    await Promise.allSettled(opened.splice(0).map((l) => l.close()));
  });
  return {
    options,
    fifo: promisesFifo(options),
    fair: options.fair !== undefined && options.fair !== false,
    turns: options.fair === 'turns',
    open,
    async setup() {
      const a = await open();
      const b = await open();
      return { a, b, c: resolveContract(a, options), key: uniqueKey() };
    },
  };
}
