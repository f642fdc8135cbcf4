export { lockContractSuite, uniqueKey, waitFor, type LockFactory } from './lock-contract-suite.js';
export type { ContractOptions, ResolvedContract } from './capabilities.js';
