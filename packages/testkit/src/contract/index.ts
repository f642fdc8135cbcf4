// `@dlock/testkit/contract`: the backend contract suite. ESM only, like vitest which it runs in.
export { lockContractSuite, type LockFactory } from './lock-contract-suite.js';
export type { ContractOptions, ResolvedContract } from './capabilities.js';
export { outageContractSuite, type OutageFixture } from './outage-contract-suite.js';
export { uniqueKey, waitFor } from '../util.js';
