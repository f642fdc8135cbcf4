import type { DistributedRWLock } from '@dlock/core';
import { describe } from 'vitest';
import { primitiveContext, type PrimitiveContractOptions } from './primitive-context.js';
import { rwExclusionTests } from './rw/exclusion.js';
import { rwFencingTests } from './rw/fencing.js';
import { rwLifecycleTests } from './rw/lifecycle.js';
import { rwOrderingTests } from './rw/ordering.js';
import { rwValidationTests } from './rw/validation.js';

/** Makes a new, independent read-write lock instance (its own connection where the backend has one). */
export type RWLockFactory = () => DistributedRWLock | Promise<DistributedRWLock>;

/**
 * The behaviours every read-write lock must show, against whatever server the factory connects
 * to: readers share and writers exclude across instances, writer-preferring FIFO, fencing across
 * readers and writers, leases, timeout and abort, validation, close(). Each group lives in its
 * own file under `rw/`; this composes them.
 *
 * @example
 * ```ts
 * rwLockContractSuite('RedisReadWriteLock', () => new RedisReadWriteLock({ port: server.port }));
 * ```
 */
export function rwLockContractSuite(name: string, factory: RWLockFactory, options: PrimitiveContractOptions = {}): void {
  describe(`${name}: read-write lock contract`, () => {
    const ctx = primitiveContext(factory, options);
    rwExclusionTests(ctx);
    rwOrderingTests(ctx);
    rwFencingTests(ctx);
    rwLifecycleTests(ctx);
    rwValidationTests(ctx);
  });
}
