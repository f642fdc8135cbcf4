export { Redlock } from './redlock.js';
export { defaultRedlockOptions, type RedlockOptions } from './options.js';
export type { RedlockNode } from './node-client.js';
export { RedlockNodeTimeoutError, RedlockQuorumError, type RedlockNodeFailure } from './errors.js';
export { quorumOf } from './quorum.js';
