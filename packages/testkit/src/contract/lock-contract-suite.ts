import { describe } from 'vitest';
import type { ContractOptions } from './capabilities.js';
import { abortAndTimeoutTests } from './mutex/abort-timeout.js';
import { closeTests } from './mutex/close.js';
import { contractContext } from './mutex/context.js';
import { exclusionTests } from './mutex/exclusion.js';
import { expiryTests } from './mutex/expiry.js';
import { fairnessTests } from './mutex/fairness.js';
import { fencingTests } from './mutex/fencing.js';
import { ownershipTests } from './mutex/ownership.js';
import { validationTests } from './mutex/validation.js';
import { waitingTests } from './mutex/waiting.js';
import { outageContractSuite } from './outage-contract-suite.js';
import type { LockFactory } from './types.js';

/**
 * The behaviours every dlock backend must show, against whatever server the factory connects
 * to. A backend's test file calls this once; backend-specific tests live beside it. Each group
 * of behaviours lives in its own file under `mutex/`; this composes them.
 *
 * @example
 * ```ts
 * lockContractSuite('RedisLock', () => new RedisLock({ port: server.port }), { fifo: true });
 * ```
 */
export function lockContractSuite(name: string, factory: LockFactory, options: ContractOptions = {}): void {
  if (options.outage !== undefined) outageContractSuite(name, factory, options.outage);
  describe(`${name}: lock contract`, () => {
    const ctx = contractContext(factory, options);
    exclusionTests(ctx);
    expiryTests(ctx);
    ownershipTests(ctx);
    fencingTests(ctx);
    waitingTests(ctx);
    fairnessTests(ctx);
    abortAndTimeoutTests(ctx);
    validationTests(ctx);
    closeTests(ctx);
  });
}
