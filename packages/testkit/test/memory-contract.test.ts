import { MemoryLock, MemoryLockStore } from '@dlock/core';
import { lockContractSuite } from '@dlock/testkit/contract';

// Each test gets a fresh store shared by the instances it opens, like separate clients of one server.
let store = new MemoryLockStore();
let opened = 0;
lockContractSuite(
  'MemoryLock',
  () => {
    // Two instances per test share a store; a new pair gets a new one.
    if (opened++ % 2 === 0) store = new MemoryLockStore();
    return new MemoryLock({ store });
  },
  // A release wakes a waiter synchronously; one not woken would sleep out the 60 s lease.
  { fifo: true, fair: true, wakeupBudgetMs: 500 },
);
