// `@dlock/testkit/contract`: the backend contract suite. ESM only, like vitest which it runs in.
export { lockContractSuite } from './lock-contract-suite.js';
export { outageContractSuite } from './outage-contract-suite.js';
export { rwLockContractSuite, type RWLockFactory } from './rw-lock-contract-suite.js';
export { semaphoreContractSuite, type SemaphoreFactory } from './semaphore-contract-suite.js';
export type { PrimitiveContractOptions, PrimitiveTiming } from './primitive-context.js';
export type { LockFactory, OutageFixture } from './types.js';
export type { ContractOptions, ResolvedContract } from './capabilities.js';
export { uniqueKey, waitFor } from '../util.js';
export { electionContractSuite, type ElectionFactory } from './election/suite.js';
