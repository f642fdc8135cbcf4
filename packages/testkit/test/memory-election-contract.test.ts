import { MemoryElectionStore, MemoryElection } from '@dlock/core';
import { electionContractSuite } from '@dlock/testkit/contract';

// Every instance of this file shares one store, like clients of one server (each test uses its own names).
const store = new MemoryElectionStore();
electionContractSuite(
  'MemoryElection',
  () => new MemoryElection({ store }),
  // The store tells waiters and observers of every change synchronously.
  { wakeupBudgetMs: 500 },
);
