import type { Election } from '@dlock/core';
import { describe } from 'vitest';
import { primitiveContext, type PrimitiveContractOptions } from '../primitive-context.js';
import { electionExclusionTests } from './exclusion.js';
import { electionExpiryTests } from './expiry.js';
import { electionLifecycleTests } from './lifecycle.js';
import { electionObserveTests } from './observe.js';
import { electionTermTests } from './terms.js';
import { electionValidationTests } from './validation.js';

/** Makes a new, independent election instance (its own connection where the backend has one). */
export type ElectionFactory = () => Election | Promise<Election>;

/**
 * The behaviours every election must show, against whatever server the factory connects to: at
 * most one leader at a time under concurrency, prompt hand-over on resign, replacement of a
 * leader that stops renewing after its TTL and not before, strictly increasing terms, values
 * and proclaim, every change seen by observers, timeout and abort, close(), validation. Each
 * group lives in its own file under `election/`; this composes them.
 *
 * @example
 * ```ts
 * electionContractSuite('RedisElection', () => new RedisElection({ port: server.port }));
 * ```
 */
export function electionContractSuite(name: string, factory: ElectionFactory, options: PrimitiveContractOptions = {}): void {
  describe(`${name}: election contract`, () => {
    const ctx = primitiveContext(factory, options);
    electionExclusionTests(ctx);
    electionTermTests(ctx);
    electionExpiryTests(ctx);
    electionObserveTests(ctx);
    electionLifecycleTests(ctx);
    electionValidationTests(ctx);
  });
}
