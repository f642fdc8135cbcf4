import { MemoryClaimStore, MemoryReadWriteLock, MemorySemaphore } from '@dlock/core';
import { rwLockContractSuite, semaphoreContractSuite } from '@dlock/testkit/contract';

// Each pair of instances shares a fresh store, like two clients of one server.
let rwStore = new MemoryClaimStore();
let rwOpened = 0;
rwLockContractSuite(
  'MemoryReadWriteLock',
  () => {
    if (rwOpened++ % 2 === 0) rwStore = new MemoryClaimStore();
    return new MemoryReadWriteLock({ store: rwStore });
  },
  // A release wakes waiters synchronously; one not woken would sleep until maxRetryDelay (1 s).
  { wakeupBudgetMs: 500 },
);

let semStore = new MemoryClaimStore();
let semOpened = 0;
semaphoreContractSuite(
  'MemorySemaphore',
  () => {
    if (semOpened++ % 2 === 0) semStore = new MemoryClaimStore();
    return new MemorySemaphore({ store: semStore });
  },
  { wakeupBudgetMs: 500 },
);
