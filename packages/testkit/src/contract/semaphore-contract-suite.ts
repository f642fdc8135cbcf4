import type { DistributedSemaphore } from '@dlock/core';
import { describe } from 'vitest';
import { primitiveContext, type PrimitiveContractOptions } from './primitive-context.js';
import { semaphoreFencingTests } from './semaphore/fencing.js';
import { semaphoreLifecycleTests } from './semaphore/lifecycle.js';
import { semaphoreLimitTests } from './semaphore/limit.js';
import { semaphoreOrderingTests } from './semaphore/ordering.js';
import { semaphoreValidationTests } from './semaphore/validation.js';

/** Makes a new, independent semaphore instance (its own connection where the backend has one). */
export type SemaphoreFactory = () => DistributedSemaphore | Promise<DistributedSemaphore>;

/**
 * The behaviours every semaphore must show, against whatever server the factory connects to: at
 * most `limit` permits across instances, FIFO (large requests not overtaken, one release admits
 * all that fit), fencing, leases, timeout and abort, validation and the limit rule, close().
 * Each group lives in its own file under `semaphore/`; this composes them.
 *
 * @example
 * ```ts
 * semaphoreContractSuite('RedisSemaphore', () => new RedisSemaphore({ port: server.port }));
 * ```
 */
export function semaphoreContractSuite(name: string, factory: SemaphoreFactory, options: PrimitiveContractOptions = {}): void {
  describe(`${name}: semaphore contract`, () => {
    const ctx = primitiveContext(factory, options);
    semaphoreLimitTests(ctx);
    semaphoreOrderingTests(ctx);
    semaphoreFencingTests(ctx);
    semaphoreLifecycleTests(ctx);
    semaphoreValidationTests(ctx);
  });
}
